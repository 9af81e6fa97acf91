import { ByteReader } from './byte-reader';
import { ImageError } from './errors';
import type { ByteSource } from './source';

export interface TarEntry {
  name: string;
  size: number;
  type: 'file' | 'directory' | 'other';
  /** The raw type flag character ('0', '5', '2', ...). */
  typeFlag: string;
  /** Byte offset of this entry's header in the archive. */
  headerOffset: number;
  /** Byte offset of this entry's body in the archive. */
  offset: number;
  /** Must be consumed (or left alone: the parser then skips it) before asking for the next entry. */
  body: AsyncIterable<Buffer>;
}

export interface TarReadOptions {
  /** Most entries accepted (default 100 000). */
  maxEntries?: number;
  /** Largest pax extended header or GNU long name body, in bytes (default 1 MiB). */
  maxMetaBytes?: number;
  /** Largest entry, in bytes (default 64 TiB). */
  maxEntryBytes?: number;
  /** Longest entry name, in bytes (default 4096); longer is BG_TAR_UNSAFE_NAME. */
  maxNameBytes?: number;
  /**
   * Refuse entry names that are unsafe as paths: a `..` component, an absolute path (`/x`, `\x`,
   * `C:x`), a NUL byte, or empty (BG_TAR_UNSAFE_NAME). Default true.
   */
  safeNames?: boolean;
  /** Name used in error messages (default 'tar archive'). */
  what?: string;
}

export interface TarWriteEntry {
  name: string;
  size: number;
  body: AsyncIterable<Buffer> | Iterable<Buffer>;
  mode?: number;
  mtime?: Date;
}

const BLOCK = 512;

function cString(buf: Buffer, start: number, len: number): string {
  const field = buf.subarray(start, start + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? field.length : nul).toString('utf8');
}

/** Parses a numeric header field: octal text, or GNU base-256 when the top bit is set. */
function parseNumeric(buf: Buffer, start: number, len: number): number | undefined {
  const field = buf.subarray(start, start + len);
  if (((field[0] ?? 0) & 0x80) !== 0) {
    if (field[0] === 0xff) return undefined; // negative
    let v = (field[0] ?? 0) & 0x7f;
    for (let i = 1; i < field.length; i++) v = v * 256 + (field[i] ?? 0);
    return Number.isSafeInteger(v) ? v : undefined;
  }
  const s = cString(buf, start, len)
    .replace(/[ \0]+$/, '')
    .trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) return undefined;
  return parseInt(s, 8);
}

function checksumOk(block: Buffer): boolean {
  const stored = parseNumeric(block, 148, 8);
  if (stored === undefined) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

/** Parses pax extended header records ("<len> <key>=<value>\n"). */
export function parsePaxRecords(body: Buffer): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  let off = 0;
  while (off < body.length) {
    const sp = body.indexOf(0x20, off);
    if (sp < 0) break;
    const len = parseInt(body.subarray(off, sp).toString('latin1'), 10);
    if (!Number.isSafeInteger(len) || len <= 0 || off + len > body.length) break;
    const rec = body
      .subarray(sp + 1, off + len)
      .toString('utf8')
      .replace(/\n$/, '');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    off += len;
  }
  return out;
}

function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** Why a name is unsafe to use as a path, or undefined when it is safe. */
export function unsafeTarName(name: string): string | undefined {
  if (name === '') return 'it is empty';
  if (name.includes('\0')) return 'it contains a NUL byte';
  if (name.startsWith('/') || name.startsWith('\\') || /^[A-Za-z]:/.test(name))
    return 'it is an absolute path';
  if (name.split(/[/\\]/).includes('..')) return 'it has a ".." component';
  return undefined;
}

function checkName(name: string, headerOffset: number, what: string, maxName: number, safe: boolean): void {
  if (Buffer.byteLength(name) > maxName) {
    throw new ImageError(
      'BG_TAR_UNSAFE_NAME',
      `${what}: the entry name at byte ${headerOffset} is longer than ${maxName} bytes (maxNameBytes)`,
    );
  }
  const why = safe ? unsafeTarName(name) : undefined;
  if (why !== undefined) {
    throw new ImageError(
      'BG_TAR_UNSAFE_NAME',
      `${what}: the entry name ${JSON.stringify(name.slice(0, 200))} at byte ${headerOffset} is unsafe (${why}); refusing the archive`,
    );
  }
}

interface HeaderInfo {
  size: number;
  typeFlag: string;
  meta: boolean;
}

/** Checks and decodes one non-zero header block. */
function decodeHeader(block: Buffer, headerOffset: number, what: string): HeaderInfo {
  if (!checksumOk(block)) {
    throw new ImageError(
      'BG_TAR_BAD_HEADER',
      `${what}: the header at byte ${headerOffset} has a bad checksum or is not a tar header (name field ${JSON.stringify(cString(block, 0, 100).slice(0, 60))}); the file is not a tar/OVA archive or is corrupt`,
    );
  }
  const size = parseNumeric(block, 124, 12);
  if (size === undefined) {
    throw new ImageError(
      'BG_TAR_BAD_HEADER',
      `${what}: the header at byte ${headerOffset} has an unreadable size field`,
    );
  }
  let typeFlag = String.fromCharCode(block[156] ?? 0x30);
  if (typeFlag === '\0') typeFlag = '0';
  return {
    size,
    typeFlag,
    meta: typeFlag === 'x' || typeFlag === 'g' || typeFlag === 'L' || typeFlag === 'K',
  };
}

/** Pending pax / GNU metadata for the next real entry. */
interface PendingMeta {
  paxPath?: string;
  paxSize?: number;
  longName?: string;
}

function applyMeta(
  pending: PendingMeta,
  typeFlag: string,
  body: Buffer,
  headerOffset: number,
  what: string,
): void {
  if (typeFlag === 'x') {
    // global ('g') records are ignored: they carry defaults, not this entry's name or size
    const rec = parsePaxRecords(body);
    if (rec.path !== undefined) pending.paxPath = rec.path;
    if (rec.size !== undefined) {
      const n = /^\d+$/.test(rec.size) ? Number(rec.size) : Number.NaN;
      if (!Number.isSafeInteger(n) || n < 0) {
        throw new ImageError(
          'BG_TAR_BAD_HEADER',
          `${what}: the pax header at byte ${headerOffset} has an invalid size ${JSON.stringify(rec.size.slice(0, 40))}`,
        );
      }
      pending.paxSize = n;
    }
  } else if (typeFlag === 'L') {
    pending.longName = cString(body, 0, body.length);
  }
}

function entryNameOf(block: Buffer, pending: PendingMeta): string {
  const fromMeta = pending.paxPath ?? pending.longName;
  if (fromMeta !== undefined) return fromMeta;
  const base = cString(block, 0, 100);
  const magic = block.subarray(257, 263).toString('latin1');
  const prefix = magic === 'ustar\0' ? cString(block, 345, 155) : '';
  return prefix ? `${prefix}/${base}` : base;
}

function entryType(typeFlag: string): TarEntry['type'] {
  return typeFlag === '0' || typeFlag === '7' ? 'file' : typeFlag === '5' ? 'directory' : 'other';
}

/** Link and directory entries carry no body whatever their size field says. */
function bodySizeOf(typeFlag: string, size: number): number {
  return typeFlag === '1' || typeFlag === '2' || typeFlag === '5' ? 0 : size;
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

interface Limits {
  maxEntries: number;
  maxMeta: number;
  maxEntry: number;
  maxName: number;
  safe: boolean;
  what: string;
}

function limitsOf(opts: TarReadOptions): Limits {
  return {
    maxEntries: opts.maxEntries ?? 100_000,
    maxMeta: opts.maxMetaBytes ?? 1024 * 1024,
    maxEntry: opts.maxEntryBytes ?? 64 * 1024 ** 4,
    maxName: opts.maxNameBytes ?? 4096,
    safe: opts.safeNames ?? true,
    what: opts.what ?? 'tar archive',
  };
}

function checkMetaSize(size: number, headerOffset: number, l: Limits): void {
  if (size > l.maxMeta) {
    throw new ImageError(
      'BG_TAR_LIMIT',
      `${l.what}: the extended header at byte ${headerOffset} is ${size} bytes, more than the limit of ${l.maxMeta} bytes (maxMetaBytes)`,
    );
  }
}

function checkEntry(name: string, size: number, entries: number, headerOffset: number, l: Limits): void {
  if (entries > l.maxEntries) {
    throw new ImageError('BG_TAR_LIMIT', `${l.what}: more than ${l.maxEntries} entries (maxEntries)`);
  }
  checkName(name, headerOffset, l.what, l.maxName, l.safe);
  if (size > l.maxEntry) {
    throw new ImageError(
      'BG_TAR_LIMIT',
      `${l.what}: entry "${name}" at byte ${headerOffset} claims ${size} bytes, more than the limit of ${l.maxEntry} bytes (maxEntryBytes)`,
    );
  }
}

type ParserState = 'header' | 'meta' | 'entry' | 'end';

/**
 * Reads a tar archive (ustar, pax 'x'/'g' headers, GNU 'L' long names, GNU base-256 sizes) as a
 * stream of entries. An explicit state machine: HEADER → (META → HEADER)* → ENTRY → HEADER … → END.
 * Each entry's body must be consumed before the next entry is requested, or it is skipped.
 * Entry names are checked (option `safeNames`, default on): a `..` component, an absolute path, a
 * NUL byte or an empty name is BG_TAR_UNSAFE_NAME, as is a name longer than `maxNameBytes`.
 */
export async function* readTar(
  input: AsyncIterable<Buffer>,
  opts: TarReadOptions = {},
): AsyncGenerator<TarEntry> {
  const l = limitsOf(opts);
  const what = l.what;
  const r = new ByteReader(input, what);

  let state: ParserState = 'header';
  let entries = 0;
  let pending: PendingMeta = {};
  // the current header being processed
  let block: Buffer = Buffer.alloc(0);
  let headerOffset = 0;
  let info: HeaderInfo = { size: 0, typeFlag: '0', meta: false };

  try {
    while (state !== 'end') {
      switch (state) {
        case 'header': {
          headerOffset = r.position;
          if (await r.atEnd()) {
            // tolerate archives that stop without the two zero blocks only when empty of pending metadata
            if (pending.paxPath !== undefined || pending.longName !== undefined) {
              throw r.truncated(BLOCK, 'the entry header that follows an extended header');
            }
            throw new ImageError(
              'BG_IMAGE_TRUNCATED',
              `${what} ends at byte ${headerOffset} without its end-of-archive marker (two zero blocks); the archive is incomplete — transfer it again`,
            );
          }
          block = await r.read(BLOCK, `the tar header at byte ${headerOffset}`);
          if (isZeroBlock(block)) {
            // end of archive: one more zero block normally follows; a missing second one is tolerated
            if (!(await r.atEnd())) {
              const second = await r.readUpTo(BLOCK);
              if (second.length === BLOCK && !isZeroBlock(second)) {
                throw new ImageError(
                  'BG_TAR_BAD_HEADER',
                  `${what}: a zero block at byte ${headerOffset} is followed by data; the archive is corrupt`,
                );
              }
            }
            state = 'end';
            break;
          }
          info = decodeHeader(block, headerOffset, what);
          state = info.meta ? 'meta' : 'entry';
          break;
        }
        case 'meta': {
          checkMetaSize(info.size, headerOffset, l);
          const body = await r.read(info.size, `the extended header body at byte ${headerOffset}`);
          await r.skip(padding(info.size), `the padding after byte ${r.position}`);
          applyMeta(pending, info.typeFlag, body, headerOffset, what);
          state = 'header';
          break;
        }
        case 'entry': {
          entries++;
          const size = pending.paxSize ?? info.size;
          const name = entryNameOf(block, pending);
          pending = {};
          checkEntry(name, size, entries, headerOffset, l);
          const typeFlag = info.typeFlag;
          const bodySize = bodySizeOf(typeFlag, size);
          let remaining = bodySize;
          let active = true;
          const entryName = name;
          const body: AsyncIterable<Buffer> = {
            [Symbol.asyncIterator]: async function* () {
              while (remaining > 0) {
                if (!active) {
                  throw new ImageError(
                    'BG_IMAGE_STREAM_STATE',
                    `${what}: the body of "${entryName}" was read after the parser moved to the next entry; consume each body before asking for the next entry`,
                  );
                }
                const chunk = await r.readSome(Math.min(remaining, 1024 * 1024));
                if (chunk.length === 0) throw r.truncated(remaining, `the body of "${entryName}"`);
                remaining -= chunk.length;
                yield chunk;
              }
            },
          };
          yield {
            name,
            size: bodySize,
            type: entryType(typeFlag),
            typeFlag,
            headerOffset,
            offset: r.position,
            body,
          };
          active = false;
          await r.skip(remaining, `the body of "${entryName}"`);
          remaining = 0;
          await r.skip(padding(bodySize), `the padding after "${entryName}"`);
          state = 'header';
          break;
        }
      }
    }
  } finally {
    await r.close();
  }
}

/** One entry of a tar archive read with random access: where its body is. */
export interface TarIndexEntry {
  name: string;
  /** Byte offset of the body in the archive. */
  offset: number;
  size: number;
  type: TarEntry['type'];
  typeFlag: string;
  headerOffset: number;
}

/**
 * Lists a tar archive's entries from a ByteSource, reading only the headers (and pax / GNU
 * long-name bodies) and seeking past the entry bodies: the cost is one 512-byte read per entry,
 * whatever the archive's size. Same checks, limits and errors as readTar; an entry whose body
 * would run past the end of the source is BG_IMAGE_TRUNCATED.
 */
export async function indexTar(src: ByteSource, opts: TarReadOptions = {}): Promise<TarIndexEntry[]> {
  const l = limitsOf({ what: src.name, ...opts });
  const out: TarIndexEntry[] = [];
  let pending: PendingMeta = {};
  let pos = 0;
  const read = async (offset: number, length: number, what: string): Promise<Buffer> => {
    if (offset + length > src.size) {
      throw new ImageError(
        'BG_IMAGE_TRUNCATED',
        `${l.what} ends at byte ${src.size}, in ${what} (needed bytes ${offset}..${offset + length}); the archive is incomplete — transfer it again`,
      );
    }
    return src.read(offset, length);
  };
  for (;;) {
    const headerOffset = pos;
    if (pos >= src.size) {
      if (pending.paxPath !== undefined || pending.longName !== undefined) {
        await read(pos, BLOCK, 'the entry header that follows an extended header');
      }
      throw new ImageError(
        'BG_IMAGE_TRUNCATED',
        `${l.what} ends at byte ${headerOffset} without its end-of-archive marker (two zero blocks); the archive is incomplete — transfer it again`,
      );
    }
    const block = await read(pos, BLOCK, `the tar header at byte ${headerOffset}`);
    pos += BLOCK;
    if (isZeroBlock(block)) {
      if (pos + BLOCK <= src.size && !isZeroBlock(await src.read(pos, BLOCK))) {
        throw new ImageError(
          'BG_TAR_BAD_HEADER',
          `${l.what}: a zero block at byte ${headerOffset} is followed by data; the archive is corrupt`,
        );
      }
      return out;
    }
    const info = decodeHeader(block, headerOffset, l.what);
    if (info.meta) {
      checkMetaSize(info.size, headerOffset, l);
      const body = await read(pos, info.size, `the extended header body at byte ${headerOffset}`);
      pos += info.size + padding(info.size);
      applyMeta(pending, info.typeFlag, body, headerOffset, l.what);
      continue;
    }
    const size = pending.paxSize ?? info.size;
    const name = entryNameOf(block, pending);
    pending = {};
    checkEntry(name, size, out.length + 1, headerOffset, l);
    const bodySize = bodySizeOf(info.typeFlag, size);
    if (pos + bodySize > src.size) {
      throw new ImageError(
        'BG_IMAGE_TRUNCATED',
        `${l.what}: the body of "${name}" (${bodySize} bytes at byte ${pos}) runs past the end of the archive at byte ${src.size}; the archive is incomplete — transfer it again`,
      );
    }
    out.push({
      name,
      offset: pos,
      size: bodySize,
      type: entryType(info.typeFlag),
      typeFlag: info.typeFlag,
      headerOffset,
    });
    pos += bodySize + padding(bodySize);
  }
}

function writeOctal(block: Buffer, value: number, start: number, len: number): void {
  const s = value.toString(8).padStart(len - 1, '0');
  block.write(s + '\0', start, len, 'latin1');
}

function paxRecord(key: string, value: string): Buffer {
  const payload = ` ${key}=${value}\n`;
  const payloadLen = Buffer.byteLength(payload);
  let len = payloadLen + 1;
  while (len !== payloadLen + String(len).length) len = payloadLen + String(len).length;
  return Buffer.from(`${len}${payload}`);
}

function splitUstarName(name: string): { name: string; prefix: string } | undefined {
  const bytes = Buffer.byteLength(name);
  if (bytes <= 100) return { name, prefix: '' };
  if (bytes > 256) return undefined;
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue;
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest.length > 0) {
      return { name: rest, prefix };
    }
  }
  return undefined;
}

const MAX_OCTAL_SIZE = 0o77777777777; // 11 octal digits

function header(
  name: string,
  prefix: string,
  size: number,
  typeFlag: string,
  mode: number,
  mtime: number,
): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, 100, 'utf8');
  writeOctal(block, mode, 100, 8);
  writeOctal(block, 0, 108, 8);
  writeOctal(block, 0, 116, 8);
  if (size <= MAX_OCTAL_SIZE) {
    writeOctal(block, size, 124, 12);
  } else {
    // GNU base-256; the pax 'size' record is authoritative for pax readers
    block[124] = 0x80;
    let v = size;
    for (let i = 135; i > 124; i--) {
      block[i] = v % 256;
      v = Math.floor(v / 256);
    }
  }
  writeOctal(block, mtime, 136, 12);
  block.fill(0x20, 148, 156);
  block.write(typeFlag, 156, 1, 'latin1');
  block.write('ustar\0', 257, 6, 'latin1');
  block.write('00', 263, 2, 'latin1');
  block.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i]!;
  block.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return block;
}

/**
 * Writes a ustar archive: 512-byte headers (pax 'x' headers for long names and sizes of 8 GiB and
 * more), bodies padded to 512 bytes, two zero blocks at the end. Each body's length must equal its
 * declared size (BG_TAR_SIZE_MISMATCH otherwise).
 */
export async function* writeTar(
  entries: AsyncIterable<TarWriteEntry> | Iterable<TarWriteEntry>,
  opts: { mtime?: Date } = {},
): AsyncGenerator<Buffer> {
  const defaultMtime = Math.floor((opts.mtime ?? new Date()).getTime() / 1000);
  for await (const e of entries) {
    if (!Number.isSafeInteger(e.size) || e.size < 0) {
      throw new ImageError(
        'BG_IMAGE_INVALID_ARGUMENT',
        `writeTar: entry "${e.name}" has an invalid size ${e.size}`,
      );
    }
    if (e.name === '' || e.name.includes('\0')) {
      throw new ImageError(
        'BG_IMAGE_INVALID_ARGUMENT',
        `writeTar: invalid entry name ${JSON.stringify(e.name)}`,
      );
    }
    const mtime = e.mtime ? Math.floor(e.mtime.getTime() / 1000) : defaultMtime;
    const mode = e.mode ?? 0o644;
    const split = splitUstarName(e.name);
    const records: Buffer[] = [];
    if (!split) records.push(paxRecord('path', e.name));
    if (e.size > MAX_OCTAL_SIZE) records.push(paxRecord('size', String(e.size)));
    if (records.length > 0) {
      const pax = Buffer.concat(records);
      const paxName = `PaxHeader/${e.name.replace(/^.*\//, '')}`.slice(0, 99);
      yield header(paxName, '', pax.length, 'x', 0o644, mtime);
      yield pax;
      const pad = (BLOCK - (pax.length % BLOCK)) % BLOCK;
      if (pad > 0) yield Buffer.alloc(pad);
    }
    const nm = split ?? { name: e.name.slice(-100).replace(/^\/+/, ''), prefix: '' };
    yield header(nm.name, nm.prefix, e.size, '0', mode, mtime);
    let written = 0;
    for await (const chunk of e.body) {
      written += chunk.length;
      if (written > e.size) {
        throw new ImageError(
          'BG_TAR_SIZE_MISMATCH',
          `writeTar: the body of "${e.name}" is longer than its declared size of ${e.size} bytes; the size must be known exactly before writing`,
        );
      }
      if (chunk.length > 0) yield chunk;
    }
    if (written !== e.size) {
      throw new ImageError(
        'BG_TAR_SIZE_MISMATCH',
        `writeTar: the body of "${e.name}" is ${written} bytes but its declared size is ${e.size} bytes`,
      );
    }
    const pad = (BLOCK - (e.size % BLOCK)) % BLOCK;
    if (pad > 0) yield Buffer.alloc(pad);
  }
  yield Buffer.alloc(BLOCK * 2);
}
