/**
 * Generated fixtures for the disk-image tests: raw disks built in code, converted with qemu-img
 * (the reference tool) into temporary directories. Nothing here is committed as a binary.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DiskStream } from '../../../shared/images/extents';

const execFileP = promisify(execFile);

export async function qemuImg(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await execFileP('qemu-img', args, { maxBuffer: 16 * 1024 * 1024 });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : 1 };
  }
}

/** qemu-img that must succeed: its stdout, or an error carrying its exit code and stderr. */
export async function qemuOk(...args: string[]): Promise<string> {
  const r = await qemuImg(...args);
  if (r.code !== 0) throw new Error(`qemu-img ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

export async function makeTmpDir(
  prefix = 'bg-images-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Deterministic pseudo-random bytes (so failures reproduce). */
export function pseudoRandom(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export interface Patch {
  offset: number;
  data: Buffer;
}

/** An in-memory raw disk of `capacity` bytes with patches of data written at offsets. */
export function rawDisk(capacity: number, patches: Patch[]): Buffer {
  const buf = Buffer.alloc(capacity);
  for (const p of patches) p.data.copy(buf, p.offset);
  return buf;
}

/** `count` patches of 1 byte to 200 KiB at offsets spread over `capacity`, the same for one seed. */
export function randomPatches(seed: number, capacity: number, count: number): Patch[] {
  const r = pseudoRandom(count * 8, seed);
  return Array.from({ length: count }, (_, i) => {
    const offset = r.readUInt32LE(i * 8) % capacity;
    const length = Math.min(capacity - offset, 1 + (r.readUInt32LE(i * 8 + 4) % (200 * 1024)));
    return { offset, data: pseudoRandom(length, seed * 1000 + i) };
  });
}

/** Writes a sparse raw file: only patches are written, the rest is a hole. */
export async function writeSparseRaw(path: string, capacity: number, patches: Patch[]): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.truncate(capacity);
    for (const p of patches) await fh.write(p.data, 0, p.data.length, p.offset);
  } finally {
    await fh.close();
  }
}

/** Writes a DiskStream to a sparse raw file (zero extents become holes). */
export async function writeDiskToSparseFile(disk: DiskStream, path: string): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.truncate(disk.capacity);
    for await (const e of disk.extents) {
      if (e.kind === 'data') await fh.write(e.data, 0, e.data.length, e.offset);
    }
  } finally {
    await fh.close();
  }
}

export async function writeStreamToFile(chunks: AsyncIterable<Buffer>, path: string): Promise<number> {
  const fh = await open(path, 'w');
  let n = 0;
  try {
    for await (const c of chunks) {
      await fh.write(c);
      n += c.length;
    }
  } finally {
    await fh.close();
  }
  return n;
}

export function fileChunks(path: string, chunkSize = 64 * 1024): AsyncIterable<Buffer> {
  return createReadStream(path, { highWaterMark: chunkSize });
}

/** Yields buf in pieces of `size` bytes (1-byte chunks included). */
export async function* chunked(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let off = 0; off < buf.length; off += size) yield buf.subarray(off, Math.min(buf.length, off + size));
}

export { collect, sha256 } from '../bytes';

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path, { highWaterMark: 1024 * 1024 })) h.update(c as Buffer);
  return h.digest('hex');
}

/** A raw file converted by qemu-img into streamOptimized VMDK; returns the VMDK path. */
export async function qemuStreamOptimized(
  dir: string,
  name: string,
  capacity: number,
  patches: Patch[],
): Promise<string> {
  const raw = join(dir, `${name}.raw`);
  const vmdk = join(dir, `${name}.vmdk`);
  await writeSparseRaw(raw, capacity, patches);
  const r = await qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', raw, vmdk);
  if (r.code !== 0) throw new Error(`qemu-img convert failed: ${r.stderr}`);
  return vmdk;
}

export { randomBytes, writeFile, join };
