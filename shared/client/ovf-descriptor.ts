/**
 * The OVF descriptor of an image on this machine, for a quote: an OVA's `.ovf` entry read without
 * reading its disks (one header per tar entry), or a `.ovf` file itself. Descriptors are small;
 * one larger than the gateway takes is refused here.
 */
import { readFile, stat } from 'node:fs/promises';
import { fileSource, listOvaEntries, subSource } from '../images';

export const MAX_OVF_BYTES = 900 * 1024;

export interface OvfDescriptor {
  ovf: string;
  /** The file's size: what the upload would stage. */
  imageBytes: number;
}

export async function readOvfDescriptor(path: string): Promise<OvfDescriptor> {
  const size = (await stat(path)).size;
  if (/\.ovf$/i.test(path)) {
    if (size > MAX_OVF_BYTES)
      throw new Error(`${path} is ${size} bytes; an OVF descriptor of at most ${MAX_OVF_BYTES} is quoted`);
    return { ovf: await readFile(path, 'utf8'), imageBytes: size };
  }
  const src = await fileSource(path);
  try {
    const entry = (await listOvaEntries(src)).find((e) => e.type === 'file' && /\.ovf$/i.test(e.name));
    if (!entry) throw new Error(`${path} has no .ovf descriptor: quote an OVA, or give the VM's profile`);
    if (entry.size > MAX_OVF_BYTES) {
      throw new Error(
        `${entry.name} in ${path} is ${entry.size} bytes; an OVF descriptor of at most ${MAX_OVF_BYTES} is quoted`,
      );
    }
    const bytes = await subSource(src, entry.offset, entry.size, entry.name).read(0, entry.size);
    return { ovf: Buffer.from(bytes).toString('utf8'), imageBytes: size };
  } finally {
    await src.close();
  }
}
