import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ImageError, type ImageErrorCode } from '../../../shared/images/errors';
import { diskFromBuffer, type DiskStream } from '../../../shared/images/extents';
import { buildFixedVhdFooter, parseVhdFooter, readFixedVhd, writeFixedVhd } from '../../../shared/images/vhd';

// --- fuzz harness (kept in each fuzz file: test helpers outside fuzz-*.test.ts belong to others) ---
const SEED = Number(process.env.FUZZ_SEED ?? 20251124);
const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);

interface Mutation {
  at: number;
  op: number;
  v: number;
  len: number;
}

/** 1-4 byte-level mutations; `hot` offsets (header fields) are picked as often as any other byte. */
function mutations(hot: number[] = []): fc.Arbitrary<Mutation[]> {
  const at = hot.length > 0 ? fc.oneof(fc.constantFrom(...hot), fc.nat(1 << 20)) : fc.nat(1 << 20);
  return fc.array(fc.record({ at, op: fc.nat(6), v: fc.nat(255), len: fc.integer({ min: 1, max: 16 }) }), {
    minLength: 1,
    maxLength: 4,
  });
}

function mutate(seed: Buffer, ms: Mutation[]): Buffer {
  let b = Buffer.from(seed);
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    switch (m.op) {
      case 0: // overwrite a byte
        if (b.length > 0) b[at] = m.v;
        break;
      case 1: // flip a bit
        if (b.length > 0) b[at]! ^= 1 << (m.v % 8);
        break;
      case 2: // cut the file
        b = b.subarray(0, at);
        break;
      case 3: // insert bytes
        b = Buffer.concat([b.subarray(0, at), Buffer.alloc(m.len, m.v), b.subarray(at)]);
        break;
      case 4: // delete bytes
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
        break;
      case 5: // a run of 0xff / 0x00 / octal digits / the byte (numeric fields, sizes, offsets)
        b.fill([0xff, 0x00, 0x37, m.v][m.v % 4]!, at, Math.min(b.length, at + m.len));
        break;
      default: // copy a range over another place (duplicated headers, markers)
        b = Buffer.from(b);
        b.copy(
          b,
          at,
          (at * 7 + m.v) % Math.max(1, b.length),
          ((at * 7 + m.v) % Math.max(1, b.length)) + m.len,
        );
    }
  }
  return b;
}

/** Runs fn; ImageError is an accepted outcome, any other error fails the property. */
async function imageErrorsOnly(fn: () => Promise<unknown> | unknown): Promise<'ok' | ImageErrorCode> {
  try {
    await fn();
    return 'ok';
  } catch (err) {
    if (err instanceof ImageError) return err.code;
    throw err;
  }
}

async function* chunks(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let off = 0; off < buf.length; off += size) yield buf.subarray(off, Math.min(buf.length, off + size));
}

async function drainDisk(disk: DiskStream): Promise<number> {
  let n = 0;
  for await (const e of disk.extents) n += e.kind === 'data' ? e.data.length : 0;
  return n;
}

/** Runs the property RUNS times with the fixed seed; reports outcomes, time and memory growth. */
async function fuzz<T>(name: string, arb: fc.Arbitrary<T>, run: (v: T) => Promise<'ok' | ImageErrorCode>) {
  const outcomes = new Map<string, number>();
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  await fc.assert(
    fc.asyncProperty(arb, async (v) => {
      const r = await run(v);
      outcomes.set(r, (outcomes.get(r) ?? 0) + 1);
    }),
    { seed: SEED, numRuns: RUNS, timeout: 5000, endOnFailure: true },
  );
  const ms = Math.round(performance.now() - t0);
  const grownMiB = Math.round((process.memoryUsage().rss - rss0) / 2 ** 20);
  console.log(
    `${name}: seed ${SEED}, ${RUNS} cases in ${ms} ms, rss +${grownMiB} MiB; outcomes ${JSON.stringify(Object.fromEntries([...outcomes].sort((a, b) => b[1] - a[1])))}`,
  );
  expect(grownMiB).toBeLessThan(256);
  return outcomes;
}
// --- end of fuzz harness ---

// footer fields: cookie, features, version, data offset, creator, sizes, geometry, type, checksum
const FOOTER_HOT = [0, 7, 8, 12, 16, 24, 28, 40, 47, 48, 55, 56, 58, 59, 60, 63, 64, 67, 84];

/** Rewrites the footer checksum so mutations reach the fields behind it. */
function fixChecksum(f: Buffer): Buffer {
  if (f.length < 512) return f;
  const t = f.subarray(f.length - 512);
  t.writeUInt32BE(0, 64);
  let sum = 0;
  for (const b of t) sum += b;
  t.writeUInt32BE(~sum >>> 0, 64);
  return f;
}

let vhd: Buffer;
beforeAll(async () => {
  const raw = Buffer.alloc(8192);
  raw.write('boot sector', 0);
  raw.fill(9, 4096, 4200);
  const parts: Buffer[] = [];
  for await (const c of writeFixedVhd(diskFromBuffer(raw))) parts.push(c);
  vhd = Buffer.concat(parts);
});

describe('fuzz: parseVhdFooter and readFixedVhd', () => {
  it(`${RUNS} cases: parseVhdFooter on mutated footers gives a footer or BG_VHD_BAD_FOOTER`, async () => {
    const seed = buildFixedVhdFooter(64 * 1024 * 1024);
    const arb = fc.record({
      ms: mutations(FOOTER_HOT.flatMap((h) => [h, h + 1])),
      fix: fc.boolean(),
    });
    await fuzz('fuzz-vhd-footer', arb, async ({ ms, fix }) => {
      const m = mutate(seed, ms);
      const buf = fix ? fixChecksum(m) : m;
      const r = await imageErrorsOnly(() => {
        const f = parseVhdFooter(buf);
        expect(Number.isSafeInteger(f.currentSize)).toBe(true);
      });
      expect(['ok', 'BG_VHD_BAD_FOOTER']).toContain(r);
      return r;
    });
  });

  it(`${RUNS} cases: readFixedVhd on mutated small fixed VHDs gives the disk or an ImageError`, async () => {
    const arb = fc.record({
      ms: mutations(FOOTER_HOT.map((h) => 8192 + h)),
      fix: fc.boolean(),
      chunk: fc.constantFrom(100, 512, 8704),
    });
    await fuzz('fuzz-vhd-fixed', arb, async ({ ms, fix, chunk }) => {
      const m = mutate(vhd, ms);
      const buf = fix ? fixChecksum(m) : m;
      return imageErrorsOnly(async () => {
        const disk = readFixedVhd(chunks(buf, chunk), buf.length);
        const n = await drainDisk(disk);
        expect(n).toBeLessThanOrEqual(disk.capacity);
      });
    });
  });
});
