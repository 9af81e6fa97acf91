import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageError, type ImageErrorCode } from '../../../shared/images/errors';
import { diskFromBuffer, type DiskStream } from '../../../shared/images/extents';
import { inspectOva, listOvaEntries, writeOva } from '../../../shared/images/ova';
import { bufferSource } from '../../../shared/images/source';

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

void mutations;
void drainDisk;

let seed: Buffer;
let hot: number[] = [];
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bg-fuzz-ova-'));
  const raw = Buffer.alloc(64 * 1024);
  raw.write('tiny disk', 0);
  const parts: Buffer[] = [];
  for await (const c of writeOva({
    vmName: 'fz',
    disks: [{ fileName: 'fz-disk1.vmdk', disk: diskFromBuffer(raw) }],
    tmpDir: dir,
    compressionLevel: 1,
    mtime: new Date(0),
  })) {
    parts.push(c);
  }
  seed = Buffer.concat(parts);
  // tar header fields, the OVF's numbers, the VMDK header and the manifest
  const entries = await listOvaEntries(bufferSource(seed));
  for (const e of entries) {
    const h = e.offset - 512;
    hot.push(
      h,
      h + 124,
      h + 148,
      h + 156,
      e.offset,
      e.offset + 4,
      e.offset + 12,
      e.offset + 56,
      e.offset + 512,
    );
  }
  const ovf = seed.toString('latin1', entries[0]!.offset, entries[0]!.offset + entries[0]!.size);
  for (const m of ovf.matchAll(/\d+|"/g)) hot.push(entries[0]!.offset + m.index);
  hot = [...new Set(hot)];
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('fuzz: inspectOva and listOvaEntries on a mutated small OVA', () => {
  it(`${RUNS} cases: an inspection or an ImageError`, async () => {
    const arb = fc.record({
      ms: fc.array(
        fc.record({ at: fc.nat(), op: fc.nat(6), v: fc.nat(255), len: fc.integer({ min: 1, max: 16 }) }),
        { minLength: 1, maxLength: 3 },
      ),
      useHot: fc.boolean(),
    });
    await fuzz('fuzz-ova', arb, async ({ ms, useHot }) => {
      const buf = mutate(
        seed,
        ms.map((m) => (useHot ? { ...m, at: hot[m.at % hot.length]! } : m)),
      );
      const listed = await imageErrorsOnly(() => listOvaEntries(bufferSource(buf)));
      void listed;
      return imageErrorsOnly(async () => {
        const r = await inspectOva(chunks(buf, 16 * 1024), { vmdk: { maxCapacityBytes: 1 << 30 } });
        expect(r.disks.length).toBeGreaterThan(0);
      });
    });
  });
});
