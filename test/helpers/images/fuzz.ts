/**
 * The fuzz harness of the image parsers' property tests: byte-level mutations of a small valid
 * input, a fixed seed (FUZZ_SEED) and run count (FUZZ_RUNS, default 10,000), and the rule that an
 * ImageError is the only acceptable failure.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { ImageError, type ImageErrorCode } from '../../../shared/images/errors';
import type { DiskStream } from '../../../shared/images/extents';

export const SEED = Number(process.env.FUZZ_SEED ?? 20251124);
export const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);

export interface Mutation {
  at: number;
  op: number;
  v: number;
  len: number;
}

/** 1-4 byte-level mutations; `hot` offsets (header fields) are picked as often as any other byte. */
export function mutations(hot: number[] = []): fc.Arbitrary<Mutation[]> {
  const at = hot.length > 0 ? fc.oneof(fc.constantFrom(...hot), fc.nat(1 << 20)) : fc.nat(1 << 20);
  return fc.array(fc.record({ at, op: fc.nat(6), v: fc.nat(255), len: fc.integer({ min: 1, max: 16 }) }), {
    minLength: 1,
    maxLength: 4,
  });
}

export function mutate(seed: Buffer, ms: Mutation[]): Buffer {
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
export async function imageErrorsOnly(fn: () => Promise<unknown> | unknown): Promise<'ok' | ImageErrorCode> {
  try {
    await fn();
    return 'ok';
  } catch (err) {
    if (err instanceof ImageError) return err.code;
    throw err;
  }
}

export async function* chunks(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let off = 0; off < buf.length; off += size) yield buf.subarray(off, Math.min(buf.length, off + size));
}

export async function drainDisk(disk: DiskStream): Promise<number> {
  let n = 0;
  for await (const e of disk.extents) n += e.kind === 'data' ? e.data.length : 0;
  return n;
}

/** Runs the property RUNS times with the fixed seed; reports outcomes, time and memory growth. */
export async function fuzz<T>(
  name: string,
  arb: fc.Arbitrary<T>,
  run: (v: T) => Promise<'ok' | ImageErrorCode>,
) {
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
