import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { detectImageFormat, type ImageFormat } from './detect';
import { ImageError } from './errors';
import { rawToDisk, tapDisk, type DiskExtent, type DiskStream } from './extents';
import {
  formatManifest,
  nodeHashName,
  parseManifest,
  type ManifestAlgorithm,
  type ManifestEntry,
} from './manifest';
import { buildOvf, parseOvf, type OvfHardware } from './ovf';
import { detectPartitionTable, type PartitionTable } from './partition';
import { readTar, writeTar, type TarReadOptions, type TarWriteEntry } from './tar';
import { readFixedVhd } from './vhd';
import { VmdkStreamReader, type VmdkReaderOptions } from './vmdk-stream-reader';
import { writeStreamOptimizedVmdk } from './vmdk-stream-writer';

export interface OvaInspection {
  descriptorName: string;
  hardware: OvfHardware;
  manifest?: { name: string; entries: ManifestEntry[]; verified: string[]; unlisted: string[] };
  files: Array<{ name: string; size: number; sha256: string }>;
  disks: Array<{
    name: string;
    format: ImageFormat;
    capacity: number;
    contentSha256: string;
    dataBytes: number;
    partitionTable: PartitionTable;
  }>;
}

export interface InspectOvaOptions {
  /**
   * Called with each disk's DiskStream instead of merely hashing it (e.g. to upload it). The
   * stream is hashed on the way; whatever the callback leaves unread is read (and hashed) after it
   * returns. Each disk must be finished before the OVA stream can move on.
   */
  onDisk?: (name: string, disk: DiskStream) => Promise<void>;
  /**
   * Digests computed for files that come before the manifest, whose algorithm is not known yet
   * (default SHA1 and SHA256; add SHA512 if such manifests are expected). After the manifest has
   * been seen, exactly the algorithms it names are computed. SHA256 is always computed.
   */
  hashAlgorithms?: ManifestAlgorithm[];
  /** Deployment option of the OVF to use (default: the OVF's default). */
  configuration?: string;
  /** Largest descriptor (default 16 MiB) and manifest (default 1 MiB) accepted. */
  maxDescriptorBytes?: number;
  maxManifestBytes?: number;
  vmdk?: VmdkReaderOptions;
  tar?: TarReadOptions;
}

const HEAD_BYTES = 64 * 1024;

function normalizeName(name: string): string {
  return name.replace(/^(\.\/)+/, '');
}

/** Hashes a body as it passes; the returned iterable never closes the underlying one early. */
function hashingBody(
  body: AsyncIterable<Buffer>,
  algorithms: Set<ManifestAlgorithm>,
): {
  stream: AsyncIterable<Buffer>;
  drain: () => Promise<void>;
  digests: () => Partial<Record<ManifestAlgorithm, string>>;
  bytes: () => number;
} {
  const hashes = new Map<ManifestAlgorithm, Hash>();
  for (const a of algorithms) hashes.set(a, createHash(nodeHashName(a)));
  const it = body[Symbol.asyncIterator]();
  let bytes = 0;
  let finished = false;
  const next = async (): Promise<IteratorResult<Buffer>> => {
    if (finished) return { done: true, value: undefined };
    const r = await it.next();
    if (r.done) {
      finished = true;
      return r;
    }
    bytes += r.value.length;
    for (const h of hashes.values()) h.update(r.value);
    return r;
  };
  let result: Partial<Record<ManifestAlgorithm, string>> | undefined;
  return {
    stream: { [Symbol.asyncIterator]: () => ({ next }) },
    drain: async () => {
      while (!(await next()).done) {
        /* hashing the rest */
      }
    },
    digests: () => {
      if (!result) {
        result = {};
        for (const [a, h] of hashes) result[a] = h.digest('hex');
      }
      return result;
    },
    bytes: () => bytes,
  };
}

async function readAll(stream: AsyncIterable<Buffer>, limit: number, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += c.length;
    if (n > limit) {
      throw new ImageError(
        'BG_OVA_LIMIT',
        `${what} is larger than ${limit} bytes; refusing to load it into memory`,
      );
    }
    parts.push(c);
  }
  return Buffer.concat(parts);
}

/** Reads up to n bytes from an iterator, returning them and an iterable of head + the rest. */
async function peek(
  stream: AsyncIterable<Buffer>,
  n: number,
): Promise<{ head: Buffer; all: AsyncIterable<Buffer> }> {
  const it = stream[Symbol.asyncIterator]();
  const parts: Buffer[] = [];
  let got = 0;
  let ended = false;
  while (got < n) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    parts.push(r.value);
    got += r.value.length;
  }
  const head = Buffer.concat(parts);
  async function* all(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  return { head: head.subarray(0, n), all: all() };
}

/** A DiskStream whose iterator ignores return(), so a caller's `break` does not end it for us. */
function unclosable(disk: DiskStream): { disk: DiskStream; drain: () => Promise<void> } {
  const it = disk.extents[Symbol.asyncIterator]();
  let done = false;
  const next = async (): Promise<IteratorResult<DiskExtent>> => {
    if (done) return { done: true, value: undefined };
    const r = await it.next();
    if (r.done) done = true;
    return r;
  };
  return {
    disk: { capacity: disk.capacity, extents: { [Symbol.asyncIterator]: () => ({ next }) } },
    drain: async () => {
      while (!(await next()).done) {
        /* reading the rest */
      }
    },
  };
}

async function openEntryDisk(
  name: string,
  body: AsyncIterable<Buffer>,
  size: number,
  vmdk: VmdkReaderOptions | undefined,
  compressed: boolean,
): Promise<{ format: ImageFormat; disk: DiskStream }> {
  const { head, all } = await peek(body, HEAD_BYTES);
  const format = detectImageFormat(head, size);
  switch (format) {
    case 'vmdk-stream-optimized':
      return { format, disk: await new VmdkStreamReader({ ...vmdk, what: `disk "${name}"` }).read(all) };
    case 'raw':
      if (compressed) {
        throw new ImageError(
          'BG_IMAGE_UNSUPPORTED_FORMAT',
          `disk "${name}" is gzip-compressed raw data whose size is unknown; use a streamOptimized VMDK`,
        );
      }
      return { format, disk: rawToDisk(all, size, { what: `disk "${name}"` }) };
    case 'vhd-fixed':
      return { format, disk: readFixedVhd(all, size) };
    default:
      throw new ImageError(
        'BG_IMAGE_UNSUPPORTED_FORMAT',
        `disk "${name}" in the OVA is "${format}", which cannot be read as a stream; re-export the VM as OVA with streamOptimized VMDK disks (VMware, VirtualBox and ovftool do this by default)`,
      );
  }
}

/**
 * Streams an OVA once. The descriptor must be the first entry (BG_OVA_DESCRIPTOR_NOT_FIRST; none at
 * all: BG_OVA_NO_DESCRIPTOR). Every entry is hashed as it passes; each disk named by the OVF is read
 * through the matching reader (streamOptimized VMDK, or raw/fixed VHD) to compute its content
 * SHA-256, data bytes and partition table — or handed to onDisk. At the end the manifest, if any,
 * is verified: a mismatch is BG_OVA_MANIFEST_MISMATCH naming the file, a listed file that is absent
 * is BG_OVA_MANIFEST_MISSING_FILE naming it. A disk named by the OVF but absent is
 * BG_OVA_MISSING_DISK; an OVA without any disk is BG_OVA_NO_DISK.
 */
export async function inspectOva(
  input: AsyncIterable<Buffer>,
  opts: InspectOvaOptions = {},
): Promise<OvaInspection> {
  const preManifestAlgs = new Set<ManifestAlgorithm>(opts.hashAlgorithms ?? ['SHA1', 'SHA256']);
  preManifestAlgs.add('SHA256');
  const maxDescriptor = opts.maxDescriptorBytes ?? 16 * 1024 * 1024;
  const maxManifest = opts.maxManifestBytes ?? 1024 * 1024;

  let descriptorName: string | undefined;
  let hardware: OvfHardware | undefined;
  let firstName: string | undefined;
  let manifest: { name: string; entries: ManifestEntry[] } | undefined;
  const digests = new Map<string, Partial<Record<ManifestAlgorithm, string>>>();
  const files: OvaInspection['files'] = [];
  const disks: OvaInspection['disks'] = [];
  const diskFiles = new Map<string, { compressed: boolean }>();

  for await (const entry of readTar(input, { what: 'OVA', ...opts.tar })) {
    if (entry.type !== 'file') continue;
    const name = normalizeName(entry.name);
    const isOvf = name.toLowerCase().endsWith('.ovf') && !name.includes('/');
    if (firstName === undefined) firstName = name;
    if (descriptorName === undefined && isOvf && firstName !== name) {
      throw new ImageError(
        'BG_OVA_DESCRIPTOR_NOT_FIRST',
        `OVA: the descriptor "${name}" (header at byte ${entry.headerOffset}) is not the first entry ("${firstName}" is); the OVF spec requires it first — repack the OVA (e.g. tar -cf vm.ova vm.ovf vm.mf vm-disk1.vmdk) or re-export it`,
      );
    }
    let algs = preManifestAlgs;
    if (manifest) {
      algs = new Set<ManifestAlgorithm>(['SHA256']);
      for (const m of manifest.entries) if (normalizeName(m.file) === name) algs.add(m.algorithm);
    }
    const hb = hashingBody(entry.body, algs);

    if (descriptorName === undefined && isOvf) {
      const xml = (await readAll(hb.stream, maxDescriptor, `OVF descriptor "${name}"`)).toString('utf8');
      hardware = parseOvf(xml, opts.configuration !== undefined ? { configuration: opts.configuration } : {});
      descriptorName = name;
      for (const d of hardware.disks) {
        if (d.href === undefined) continue;
        const f = hardware.files?.find((x) => x.id === d.fileRef);
        diskFiles.set(normalizeName(d.href), { compressed: f?.compression === 'gzip' });
      }
    } else if (
      descriptorName !== undefined &&
      !manifest &&
      name.toLowerCase().endsWith('.mf') &&
      !name.includes('/')
    ) {
      const text = (await readAll(hb.stream, maxManifest, `manifest "${name}"`)).toString('utf8');
      manifest = { name, entries: parseManifest(text) };
    } else if (descriptorName !== undefined && diskFiles.has(name)) {
      const compressed = diskFiles.get(name)!.compressed;
      const source: AsyncIterable<Buffer> = compressed
        ? (Readable.from(hb.stream).pipe(createGunzip()) as AsyncIterable<Buffer>)
        : hb.stream;
      const opened = await openEntryDisk(
        name,
        source,
        compressed ? Number.NaN : entry.size,
        opts.vmdk,
        compressed,
      );
      const tapped = tapDisk(opened.disk, HEAD_BYTES);
      const view = unclosable(tapped.disk);
      if (opts.onDisk) await opts.onDisk(name, view.disk);
      await view.drain();
      const t = tapped.result();
      disks.push({
        name,
        format: opened.format,
        capacity: opened.disk.capacity,
        contentSha256: t.sha256,
        dataBytes: t.dataBytes,
        partitionTable: detectPartitionTable(t.head),
      });
    }
    await hb.drain();
    const d = hb.digests();
    digests.set(name, d);
    files.push({ name, size: hb.bytes(), sha256: d.SHA256! });
  }

  if (descriptorName === undefined || hardware === undefined) {
    throw new ImageError(
      'BG_OVA_NO_DESCRIPTOR',
      `OVA has no .ovf descriptor${firstName !== undefined ? ` (first entry: "${firstName}")` : ' (the archive is empty)'}; this is not an OVA — export the VM as OVA/OVF`,
    );
  }
  let manifestResult: OvaInspection['manifest'];
  if (manifest) {
    const verified: string[] = [];
    for (const m of manifest.entries) {
      const file = normalizeName(m.file);
      const have = digests.get(file);
      if (!have) {
        throw new ImageError(
          'BG_OVA_MANIFEST_MISSING_FILE',
          `OVA manifest "${manifest.name}" lists "${file}", which is not in the archive; the OVA is incomplete — re-export it, or remove the line from the manifest`,
        );
      }
      const actual = have[m.algorithm];
      if (actual === undefined) {
        throw new ImageError(
          'BG_OVA_MANIFEST_UNVERIFIABLE',
          `OVA manifest "${manifest.name}" gives a ${m.algorithm} digest for "${file}", which came before the manifest and was not hashed with ${m.algorithm}; pass hashAlgorithms including ${m.algorithm}`,
        );
      }
      if (actual !== m.digest) {
        throw new ImageError(
          'BG_OVA_MANIFEST_MISMATCH',
          `OVA manifest "${manifest.name}": ${m.algorithm} of "${file}" is ${actual} but the manifest says ${m.digest}; the file was changed or damaged in transit — transfer the OVA again`,
        );
      }
      verified.push(file);
    }
    const listed = new Set(manifest.entries.map((m) => normalizeName(m.file)));
    const unlisted = files
      .map((f) => f.name)
      .filter((n) => !listed.has(n) && n !== manifest!.name && !n.toLowerCase().endsWith('.cert'));
    manifestResult = { name: manifest.name, entries: manifest.entries, verified, unlisted };
  }

  for (const [file] of diskFiles) {
    if (!disks.some((d) => d.name === file)) {
      throw new ImageError(
        'BG_OVA_MISSING_DISK',
        `OVA: the descriptor "${descriptorName}" references disk file "${file}", which is not in the archive; re-export the VM including its disks`,
      );
    }
  }
  if (disks.length === 0) {
    throw new ImageError(
      'BG_OVA_NO_DISK',
      `OVA: the descriptor "${descriptorName}" names no disk file that the archive holds; there is nothing to import`,
    );
  }

  return {
    descriptorName,
    hardware,
    ...(manifestResult ? { manifest: manifestResult } : {}),
    files,
    disks,
  };
}

export interface WriteOvaOptions {
  vmName: string;
  vcpus?: number;
  memoryMiB?: number;
  firmware?: 'bios' | 'efi';
  disks: Array<{ fileName: string; disk: DiskStream; adapterType?: string }>;
  /** Where the VMDKs are staged (default os.tmpdir()); removed afterwards, also on error. */
  tmpDir?: string;
  nics?: number;
  osType?: string;
  compressionLevel?: number;
  /** Tar header mtime (default now). */
  mtime?: Date;
}

/**
 * Writes an OVA: the OVF descriptor first, then each disk as a streamOptimized VMDK, then a SHA256
 * manifest. Tar headers need sizes, so each VMDK is first written to a temporary file (hashed on the
 * way) and then streamed into the archive; the temporary directory is removed when the iteration
 * ends, fails or is abandoned with return().
 */
export function writeOva(opts: WriteOvaOptions): AsyncIterable<Buffer> {
  if (opts.disks.length === 0) {
    throw new ImageError('BG_IMAGE_INVALID_ARGUMENT', 'writeOva: at least one disk is needed');
  }
  const names = new Set<string>();
  for (const d of opts.disks) {
    if (!/^[A-Za-z0-9._-]+\.vmdk$/.test(d.fileName) || names.has(d.fileName)) {
      throw new ImageError(
        'BG_IMAGE_INVALID_ARGUMENT',
        `writeOva: disk file name "${d.fileName}" must be a unique plain name ending in .vmdk (letters, digits, . _ -)`,
      );
    }
    names.add(d.fileName);
  }
  const base = opts.vmName.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._-]+/, '') || 'vm';
  return (async function* () {
    const dir = await mkdtemp(join(opts.tmpDir ?? tmpdir(), 'bg-ova-'));
    try {
      const staged: Array<{
        fileName: string;
        path: string;
        size: number;
        sha256: string;
        capacity: number;
      }> = [];
      for (const d of opts.disks) {
        const path = join(dir, `${randomBytes(6).toString('hex')}.vmdk`);
        const h = createHash('sha256');
        const fh = await open(path, 'w');
        try {
          for await (const chunk of writeStreamOptimizedVmdk(d.disk, {
            fileName: d.fileName,
            ...(d.adapterType !== undefined ? { adapterType: d.adapterType } : {}),
            ...(opts.compressionLevel !== undefined ? { compressionLevel: opts.compressionLevel } : {}),
          })) {
            h.update(chunk);
            await fh.write(chunk);
          }
        } finally {
          await fh.close();
        }
        const size = (await stat(path)).size;
        staged.push({ fileName: d.fileName, path, size, sha256: h.digest('hex'), capacity: d.disk.capacity });
      }
      const ovfName = `${base}.ovf`;
      const ovf = Buffer.from(
        buildOvf({
          vmName: opts.vmName,
          vcpus: opts.vcpus ?? 1,
          memoryMiB: opts.memoryMiB ?? 1024,
          firmware: opts.firmware ?? 'bios',
          disks: staged.map((s) => ({ fileName: s.fileName, fileSize: s.size, capacityBytes: s.capacity })),
          ...(opts.nics !== undefined ? { nics: opts.nics } : {}),
          ...(opts.osType !== undefined ? { osType: opts.osType } : {}),
        }),
        'utf8',
      );
      const mf = Buffer.from(
        formatManifest([
          { algorithm: 'SHA256', file: ovfName, digest: createHash('sha256').update(ovf).digest('hex') },
          ...staged.map((s) => ({ algorithm: 'SHA256' as const, file: s.fileName, digest: s.sha256 })),
        ]),
        'utf8',
      );
      const entries: TarWriteEntry[] = [
        { name: ovfName, size: ovf.length, body: [ovf] },
        ...staged.map((s) => ({
          name: s.fileName,
          size: s.size,
          body: createReadStream(s.path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>,
        })),
        { name: `${base}.mf`, size: mf.length, body: [mf] },
      ];
      yield* writeTar(entries, opts.mtime ? { mtime: opts.mtime } : {});
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
}
