import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildOvf } from '../../../shared/images/ovf-build';
import { parseOvf } from '../../../shared/images/ovf-parse';
import { RUNS, mutations, mutate, imageErrorsOnly, fuzz } from '../../helpers/images/fuzz';

void mutations;
void mutate;

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
