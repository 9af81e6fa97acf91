import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseManifest, verifyManifest } from '../../../shared/images/manifest';
import { RUNS, mutations, mutate, imageErrorsOnly, fuzz } from '../../helpers/images/fuzz';

const realWorld = join(__dirname, '../../../../shared/fixtures/real-world');
const SEEDS: Buffer[] = [
  Buffer.from(
    `SHA256(vm.ovf)= ${'ab'.repeat(32)}\nSHA1 (vm disk.vmdk) = ${'cd'.repeat(20)}\r\nSHA512(x)=${'ef'.repeat(64)}\n`,
  ),
];
if (existsSync(realWorld)) {
  for (const d of readdirSync(realWorld, { withFileTypes: true })) {
    if (!d.isDirectory()) continue;
    for (const f of readdirSync(join(realWorld, d.name))) {
      if (f.endsWith('.mf')) SEEDS.push(readFileSync(join(realWorld, d.name, f)));
    }
  }
}
const HOT = [0, 3, 4, 5, 6, 7, 20, 40, 60, 80];
const line = fc
  .tuple(
    fc.constantFrom('SHA1', 'SHA256', 'SHA512', 'sha256', 'MD5', '', ' SHA1 '),
    fc.constantFrom('(', ' (', ''),
    fc.string({ maxLength: 20 }),
    fc.constantFrom(')=', ') = ', ')', '=)'),
    fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEFxyz '.split('')), maxLength: 130 }),
  )
  .map((p) => p.join(''));

describe('fuzz: parseManifest on mutated real-world manifests and random lines', () => {
  it(`${RUNS} cases: entries or BG_OVA_MANIFEST_INVALID`, async () => {
    const arb = fc.oneof(
      fc
        .record({ seed: fc.nat(SEEDS.length - 1), ms: mutations(HOT) })
        .map(({ seed, ms }) => mutate(SEEDS[seed]!, ms).toString('utf8')),
      fc.array(line, { maxLength: 6 }).map((ls) => ls.join('\n')),
    );
    await fuzz('fuzz-manifest', arb, async (text) => {
      const r = await imageErrorsOnly(() => {
        const entries = parseManifest(text);
        for (const e of entries) {
          expect(e.digest).toMatch(/^[0-9a-f]+$/);
          expect(e.file.length).toBeGreaterThan(0);
        }
        // verification of whatever parsed never throws on its own
        const v = verifyManifest(entries, (f) =>
          f.length % 2 === 0 ? { SHA256: 'ab'.repeat(32) } : undefined,
        );
        expect(v.verified.length + v.missing.length).toBeLessThanOrEqual(entries.length);
      });
      expect(['ok', 'BG_OVA_MANIFEST_INVALID']).toContain(r);
      return r;
    });
  });
});
