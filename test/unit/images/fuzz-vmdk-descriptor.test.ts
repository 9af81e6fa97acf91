import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ImageError, type ImageErrorCode } from '../../../shared/images/errors';
import type { DiskStream } from '../../../shared/images/extents';
import { formatVmdkDescriptor, parseVmdkDescriptor } from '../../../shared/images/vmdk-format';

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
void chunks;

const realWorld = join(__dirname, '../../../../shared/fixtures/real-world');

/** Embedded descriptors of the real-world VMDKs (header field descriptorOffset/Size, in sectors). */
function embedded(): Buffer[] {
  const out: Buffer[] = [];
  if (!existsSync(realWorld)) return out;
  for (const d of readdirSync(realWorld, { withFileTypes: true })) {
    if (!d.isDirectory()) continue;
    for (const f of readdirSync(join(realWorld, d.name))) {
      if (!f.endsWith('.vmdk')) continue;
      const b = readFileSync(join(realWorld, d.name, f));
      const off = Number(b.readBigUInt64LE(28)) * 512;
      const size = Number(b.readBigUInt64LE(36)) * 512;
      if (size > 0 && off + size <= b.length) out.push(b.subarray(off, off + Math.min(size, 4096)));
    }
  }
  return out;
}

const SEEDS: Buffer[] = [
  Buffer.from(
    formatVmdkDescriptor({
      cid: 0x1234abcd,
      capacitySectors: 2048,
      fileName: 'seed.vmdk',
      adapterType: 'lsilogic',
    }),
  ),
  ...embedded(),
];
const TOKENS = [
  'RW ',
  'RDONLY ',
  ' SPARSE ',
  ' FLAT ',
  ' "x.vmdk" ',
  '9'.repeat(20),
  '=',
  '"',
  '#',
  '\n',
  'ddb.',
  '__proto__',
  'constructor',
  'createType=',
  '\0',
];

describe('fuzz: parseVmdkDescriptor on mutated real descriptors and random text', () => {
  it(`${RUNS} cases: a descriptor or BG_VMDK_BAD_DESCRIPTOR`, async () => {
    const arb = fc.oneof(
      fc
        .record({ seed: fc.nat(SEEDS.length - 1), ms: mutations() })
        .map(({ seed, ms }) => mutate(SEEDS[seed]!, ms).toString('latin1')),
      fc
        .array(fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 8 })), { maxLength: 30 })
        .map((p) => p.join('')),
    );
    await fuzz('fuzz-vmdk-descriptor', arb, async (text) => {
      const r = await imageErrorsOnly(() => {
        const d = parseVmdkDescriptor(text);
        for (const e of d.extents) expect(Number.isSafeInteger(e.sectors)).toBe(true);
      });
      expect(['ok', 'BG_VMDK_BAD_DESCRIPTOR']).toContain(r);
      return r;
    });
  });
});
