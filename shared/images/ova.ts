import { createHash, type Hash, randomBytes } from 'node:crypto';
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
  assertManifestVerified,
  formatManifest,
  nodeHashName,
  parseManifest,
  verifyManifest,
  type ManifestAlgorithm,
  type ManifestEntry,
} from './manifest';
import { buildOvf, STREAM_OPTIMIZED_FORMAT_URI } from './ovf-build';
import { parseOvf } from './ovf-parse';
import type { OvfController, OvfHardware, OvfNic, OvfOsType, OvfProfile } from './ovf-profile';
import { checkRange, type ByteSource } from './source';
import { detectPartitionTable, type PartitionTable } from './partition';
import {
  indexTar,
  readTar,
  writeTar,
  type TarIndexEntry,
  type TarReadOptions,
  type TarWriteEntry,
} from './tar';
import { readFixedVhd } from './vhd';
import { VmdkStreamReader, type VmdkReaderOptions } from './vmdk-stream-reader';
import { writeStreamOptimizedVmdk } from './vmdk-stream-writer';

export interface OvaInspection {
  descriptorName: string;
  hardware: OvfHardware;
  manifest?: { name: string; entries: ManifestEntry[]; verified: string[]; unlisted: string[] };
  /** Every file entry, with the byte offset of its body in the OVA (for later random access). */
  files: Array<{ name: string; size: number; sha256: string; offset: number }>;
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
 * is verified in full: every mismatched and every missing file is named in one
 * ManifestVerificationError (code BG_OVA_MANIFEST_MISMATCH when any digest differs, else
 * BG_OVA_MANIFEST_MISSING_FILE, else BG_OVA_MANIFEST_UNVERIFIABLE). A disk named by the OVF but absent is
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
    files.push({ name, size: hb.bytes(), sha256: d.SHA256!, offset: entry.offset });
  }

  if (descriptorName === undefined || hardware === undefined) {
    throw new ImageError(
      'BG_OVA_NO_DESCRIPTOR',
      `OVA has no .ovf descriptor${firstName !== undefined ? ` (first entry: "${firstName}")` : ' (the archive is empty)'}; this is not an OVA — export the VM as OVA/OVF`,
    );
  }
  let manifestResult: OvaInspection['manifest'];
  if (manifest) {
    const m = manifest;
    const v = verifyManifest(
      m.entries.map((e) => ({ ...e, file: normalizeName(e.file) })),
      (file) => digests.get(file),
    );
    assertManifestVerified(m.name, v);
    const listed = new Set(m.entries.map((e) => normalizeName(e.file)));
    const unlisted = files
      .map((f) => f.name)
      .filter((n) => !listed.has(n) && n !== m.name && !n.toLowerCase().endsWith('.cert'));
    manifestResult = { name: m.name, entries: m.entries, verified: v.verified, unlisted };
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
  /** Memory in MiB (default 1024); memoryBytes wins when both are given. */
  memoryMiB?: number;
  memoryBytes?: number;
  firmware?: 'bios' | 'efi';
  /**
   * The disks, in order. `controller` defaults to SCSI lsilogic bus 0, units 0..6, 8..15 (unit 7 is
   * the SCSI initiator); `adapterType` (the VMDK's ddb.adapterType) defaults to one that matches it.
   */
  disks: Array<{ fileName: string; disk: DiskStream; adapterType?: string; controller?: OvfController }>;
  /** Where the VMDKs are staged (default os.tmpdir()); removed afterwards, also on error. */
  tmpDir?: string;
  /** A NIC count (VMXNET3 on "VM Network", the default is 1) or the NICs themselves. */
  nics?: number | OvfNic[];
  /** A vmw:osType (CIM id 102, "Other 64-bit") or the full OS ids (default "otherGuest64"). */
  osType?: string | OvfOsType;
  /** VirtualSystemType (default "vmx-13"). */
  hardwareVersion?: string;
  compressionLevel?: number;
  /** Tar header mtime (default now). */
  mtime?: Date;
}

function vmdkAdapterFor(c: OvfController | undefined): string | undefined {
  if (c === undefined) return undefined;
  if (c.type === 'ide') return 'ide';
  if (c.type === 'scsi') {
    const sub = (c.subtype ?? '').toLowerCase();
    if (sub.includes('buslogic')) return 'buslogic';
    if (sub.includes('sas')) return 'lsisas1068';
    if (sub.includes('virtualscsi') || sub.includes('pvscsi')) return 'pvscsi';
  }
  return undefined;
}

/** The VM profile writeOva describes (capacities and file names filled in later). */
export function ovaProfile(
  opts: WriteOvaOptions,
  disks: Array<{ fileName: string; capacity: number }>,
): OvfProfile {
  const os: OvfOsType =
    opts.osType === undefined
      ? { cimId: 102, vmwOsType: 'otherGuest64' }
      : typeof opts.osType === 'string'
        ? { cimId: 102, vmwOsType: opts.osType }
        : opts.osType;
  const nics: OvfNic[] = Array.isArray(opts.nics)
    ? opts.nics
    : Array.from({ length: opts.nics ?? 1 }, (_, i) => ({
        name: `Network adapter ${i + 1}`,
        network: 'VM Network',
        adapterType: 'VmxNet3',
      }));
  return {
    name: opts.vmName,
    vcpus: opts.vcpus ?? 1,
    memoryBytes: opts.memoryBytes ?? (opts.memoryMiB ?? 1024) * 2 ** 20,
    firmware: opts.firmware ?? 'bios',
    ...(Object.keys(os).length > 0 ? { osType: os } : {}),
    disks: disks.map((d, i) => ({
      diskId: `vmdisk${i + 1}`,
      fileRef: `file${i + 1}`,
      href: d.fileName,
      capacityBytes: d.capacity,
      format: STREAM_OPTIMIZED_FORMAT_URI,
      controller: opts.disks[i]?.controller ?? {
        type: 'scsi',
        subtype: 'lsilogic',
        busNumber: 0,
        unit: i < 7 ? i : i + 1,
      },
    })),
    nics,
  };
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
            ...((d.adapterType ?? vmdkAdapterFor(d.controller)) !== undefined
              ? { adapterType: d.adapterType ?? vmdkAdapterFor(d.controller) }
              : {}),
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
        buildOvf(
          ovaProfile(
            opts,
            staged.map((st) => ({ fileName: st.fileName, capacity: st.capacity })),
          ),
          {
            fileSizes: Object.fromEntries(staged.map((st) => [st.fileName, st.size])),
            ...(opts.hardwareVersion !== undefined ? { hardwareVersion: opts.hardwareVersion } : {}),
          },
        ),
        'utf8',
      );
      const mf = Buffer.from(
        formatManifest([
          {
            algorithm: 'SHA256',
            file: ovfName,
            digest: createHash('sha256').update(ovf).digest('hex'),
          },
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

/** An entry of an OVA read with random access: where its body lies in the archive. */
export interface OvaEntry {
  name: string;
  /** Byte offset of the body in the OVA. */
  offset: number;
  size: number;
  type: TarIndexEntry['type'];
}

/**
 * Lists an OVA's entries without reading their bodies: one header read per entry, seeking past the
 * bodies (pax and GNU long names included), so a disk inside a multi-GiB OVA on S3 can then be
 * opened with `subSource(src, e.offset, e.size)`. Names are normalised ("./x" → "x") and checked
 * like readTar's (BG_TAR_UNSAFE_NAME); limits are readTar's options.
 */
export async function listOvaEntries(src: ByteSource, opts: TarReadOptions = {}): Promise<OvaEntry[]> {
  const entries = await indexTar(src, { what: `OVA ${src.name}`, ...opts });
  return entries.map((e) => ({ name: normalizeName(e.name), offset: e.offset, size: e.size, type: e.type }));
}

/**
 * The bytes [offset, offset + size) of `src` as a ByteSource of its own (e.g. a disk inside an
 * OVA). Reads are checked against the sub-range (BG_IMAGE_TRUNCATED past its end). close() does not
 * close `src`, which the caller still owns.
 */
export function subSource(src: ByteSource, offset: number, size: number, name?: string): ByteSource {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size < 0) {
    throw new ImageError(
      'BG_IMAGE_INVALID_ARGUMENT',
      `subSource: invalid range of ${size} bytes at ${offset} in ${src.name}`,
    );
  }
  if (offset + size > src.size) {
    throw new ImageError(
      'BG_IMAGE_TRUNCATED',
      `${src.name} ends early: bytes ${offset}..${offset + size} were expected but the file has ${src.size}; the file is incomplete — transfer it again`,
    );
  }
  const label = name ?? `${src.name}[${offset}..${offset + size}]`;
  return {
    size,
    name: label,
    read: async (o, length) => {
      checkRange({ size, name: label }, o, length);
      return src.read(offset + o, length);
    },
    close: async () => undefined,
  };
}
