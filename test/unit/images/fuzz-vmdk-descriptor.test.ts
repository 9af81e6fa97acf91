import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatVmdkDescriptor, parseVmdkDescriptor } from '../../../shared/images/vmdk-format';
import { RUNS, mutations, mutate, imageErrorsOnly, fuzz } from '../../helpers/images/fuzz';

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
