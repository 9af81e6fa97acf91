import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ImageError, type ImageErrorCode } from '../../../shared/images/errors';
import type { DiskStream } from '../../../shared/images/extents';
import { bufferSource } from '../../../shared/images/source';
import { indexTar, readTar, writeTar } from '../../../shared/images/tar';

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

void drainDisk;

/** Recomputes the checksum of every block that still says "ustar", so mutations get past it. */
function fixChecksums(b: Buffer): Buffer {
  for (let off = 0; off + 512 <= b.length; off += 512) {
    if (b.toString('latin1', off + 257, off + 262) !== 'ustar') continue;
    b.fill(0x20, off + 148, off + 156);
    let sum = 0;
    for (let i = off; i < off + 512; i++) sum += b[i]!;
    b.write(sum.toString(8).padStart(6, '0') + '\0 ', off + 148, 'latin1');
  }
  return b;
}

// header field offsets of the first and second header (name, size, checksum, type, magic, prefix)
const HOT = [
  0,
  99,
  124,
  130,
  135,
  148,
  155,
  156,
  257,
  345,
  512,
  512 + 124,
  512 + 148,
  512 + 156,
  1024,
  1024 + 124,
];

let seeds: Buffer[] = [];
beforeAll(async () => {
  const collect = async (it: AsyncIterable<Buffer>) => {
    const parts: Buffer[] = [];
    for await (const c of it) parts.push(c);
    return Buffer.concat(parts);
  };
  seeds = [
    // ustar: descriptor, a small body spanning two blocks, an empty file
    await collect(
      writeTar(
        [
          { name: 'vm.ovf', size: 11, body: [Buffer.from('<Envelope/>')] },
          { name: 'vm-disk1.vmdk', size: 600, body: [Buffer.alloc(600, 7)] },
          { name: 'empty', size: 0, body: [] },
        ],
        { mtime: new Date(0) },
      ),
    ),
    // pax 'x' header for a long name
    await collect(
      writeTar([{ name: `${'d'.repeat(120)}/${'f'.repeat(110)}`, size: 3, body: [Buffer.from('abc')] }], {
        mtime: new Date(0),
      }),
    ),
  ];
});

describe('fuzz: readTar and indexTar on mutated small archives', () => {
  it(`${RUNS} cases: every outcome is entries or an ImageError`, async () => {
    const arb = fc.record({
      seed: fc.nat(1),
      ms: mutations(HOT),
      fix: fc.boolean(),
      chunk: fc.constantFrom(7, 100, 512, 4096),
    });
    await fuzz('fuzz-tar', arb, async ({ seed, ms, fix, chunk }) => {
      const mutated = mutate(seeds[seed]!, ms);
      const buf = fix ? fixChecksums(mutated) : mutated;
      const streamed = await imageErrorsOnly(async () => {
        for await (const e of readTar(chunks(buf, chunk), { maxEntryBytes: 1 << 20 })) {
          for await (const _ of e.body) {
            /* consume */
          }
        }
      });
      const indexed = await imageErrorsOnly(() => indexTar(bufferSource(buf), { maxEntryBytes: 1 << 20 }));
      // both readers agree on whether the archive is acceptable
      expect(indexed === 'ok', `readTar ${streamed}, indexTar ${indexed}`).toBe(streamed === 'ok');
      return streamed;
    });
  });
});
