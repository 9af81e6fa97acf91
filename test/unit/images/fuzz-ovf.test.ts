import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ImageError, type ImageErrorCode } from '../../../shared/images/errors';
import type { DiskStream } from '../../../shared/images/extents';
import { buildOvf, parseOvf } from '../../../shared/images/ovf';

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
void mutate;

void drainDisk;
void chunks;

const realWorld = join(__dirname, '../../../../shared/fixtures/real-world');

/** The real-world OVFs (when the folder is there) and one buildOvf output, as mutation seeds. */
function seedTexts(): string[] {
  const out: string[] = [];
  if (existsSync(realWorld)) {
    for (const d of readdirSync(realWorld, { withFileTypes: true })) {
      if (!d.isDirectory()) continue;
      for (const f of readdirSync(join(realWorld, d.name))) {
        if (f.endsWith('.ovf')) out.push(readFileSync(join(realWorld, d.name, f), 'utf8'));
      }
    }
  }
  out.push(
    buildOvf({
      name: 'seed',
      vcpus: 2,
      memoryBytes: 2 ** 30,
      firmware: 'efi',
      osType: { cimId: 94, vmwOsType: 'ubuntu64Guest' },
      disks: [
        {
          diskId: 'vmdisk1',
          fileRef: 'file1',
          href: 'seed-disk1.vmdk',
          capacityBytes: 2 ** 30,
          controller: { type: 'sata', subtype: 'AHCI', busNumber: 0, unit: 0 },
        },
      ],
      nics: [{ name: 'eth0', network: 'VM Network', adapterType: 'E1000' }],
    }),
  );
  return out;
}

const SEEDS = seedTexts();

/** Tokens that matter to an OVF reader, spliced into the text. */
const TOKENS = [
  '<',
  '>',
  '/>',
  '</',
  '"',
  "'",
  '&',
  '&amp;',
  '&#0;',
  '&#x110000;',
  '&lt;',
  ']]>',
  '<![CDATA[',
  '<!--',
  '-->',
  '<?xml version="1.0"?>',
  '<Envelope>',
  '</Envelope>',
  '<VirtualSystem ovf:id="x">',
  '</VirtualSystem>',
  '<Item>',
  '</Item>',
  '<rasd:ResourceType>17</rasd:ResourceType>',
  '<rasd:ResourceType>4</rasd:ResourceType>',
  '<rasd:Parent>3</rasd:Parent>',
  '<rasd:InstanceID>3</rasd:InstanceID>',
  '<rasd:VirtualQuantity>',
  '<rasd:AllocationUnits>byte * 2^99</rasd:AllocationUnits>',
  'byte * 2^30',
  'MegaBytes',
  'hertz',
  ' ovf:capacity="1e400"',
  ' ovf:capacity="${x}"',
  ' ovf:capacityAllocationUnits="constructor"',
  ' ovf:id="__proto__"',
  '<__proto__>',
  '</__proto__>',
  '<constructor/>',
  '<toString/>',
  '#text',
  ' xmlns:ovf="x"',
  ':',
  'ovf:',
  '-1',
  '1e308',
  'NaN',
  '0x10',
  '\u0000',
  '\uFEFF',
  '\uD800',
  '\r\n',
  '<!DOCTYPE x>',
  '<Section xsi:type="ovf:DiskSection_Type">',
  '<Disk ovf:diskId="a" ovf:capacity="9007199254740993"/>',
  '<Configuration ovf:id="c" ovf:default="true"/>',
  ' ovf:configuration="c"',
  '<Content xsi:type="ovf:VirtualSystem_Type">',
  '<vmw:Config vmw:key="firmware" vmw:value="efi"/>',
];

const textMutation = fc.record({
  at: fc.nat(1 << 16),
  op: fc.nat(3),
  token: fc.constantFrom(...TOKENS),
  len: fc.integer({ min: 1, max: 64 }),
});

function mutateText(s: string, ms: Array<{ at: number; op: number; token: string; len: number }>): string {
  for (const m of ms) {
    const at = s.length === 0 ? 0 : m.at % s.length;
    if (m.op === 0) s = s.slice(0, at) + m.token + s.slice(at);
    else if (m.op === 1) s = s.slice(0, at) + s.slice(at + m.len);
    else if (m.op === 2) s = s.slice(0, at) + m.token + s.slice(at + m.len);
    else s = s.slice(0, at);
  }
  return s;
}

/** Random XML-ish strings built from the tokens, words and digits. */
const xmlish = fc
  .array(fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 6 }), fc.nat().map(String)), {
    maxLength: 40,
  })
  .map((parts) => parts.join(''));

/** Shrinks a seed to one section (keeps cases small and fast): a window of whole lines. */
function window(s: string, from: number, lines: number): string {
  const all = s.split('\n');
  if (lines === 0) return s;
  const start = from % all.length;
  return all.slice(start, start + lines).join('\n');
}

describe('fuzz: parseOvf on mutated real-world OVFs and random XML-ish text', () => {
  it(`${RUNS} cases: a parse or BG_OVF_INVALID, never a TypeError`, async () => {
    const arb = fc.oneof(
      {
        weight: 4,
        arbitrary: fc
          .record({
            seed: fc.nat(SEEDS.length - 1),
            from: fc.nat(400),
            lines: fc.constantFrom(0, 0, 30, 80),
            ms: fc.array(textMutation, { minLength: 1, maxLength: 5 }),
          })
          .map(({ seed, from, lines, ms }) => mutateText(window(SEEDS[seed]!, from, lines), ms)),
      },
      { weight: 1, arbitrary: xmlish },
      { weight: 1, arbitrary: xmlish.map((x) => `<Envelope><VirtualSystem>${x}</VirtualSystem></Envelope>`) },
    );
    const outcomes = await fuzz('fuzz-ovf', arb, async (xml) => {
      const r = await imageErrorsOnly(() => {
        const h = parseOvf(xml);
        // what a parse returns is usable
        expect(Number.isSafeInteger(h.profile.memoryBytes) && h.profile.memoryBytes >= 0).toBe(true);
        expect(Number.isSafeInteger(h.profile.vcpus) && h.profile.vcpus >= 1).toBe(true);
        for (const d of h.profile.disks)
          expect(Number.isSafeInteger(d.capacityBytes) && d.capacityBytes >= 0).toBe(true);
      });
      expect(['ok', 'BG_OVF_INVALID']).toContain(r);
      return r;
    });
    expect(outcomes.get('ok') ?? 0).toBeGreaterThan(RUNS / 20);
  });
});
