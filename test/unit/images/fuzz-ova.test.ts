import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diskFromBuffer } from '../../../shared/images/extents';
import { inspectOva, listOvaEntries, writeOva } from '../../../shared/images/ova';
import { bufferSource } from '../../../shared/images/source';
import { RUNS, mutations, mutate, imageErrorsOnly, chunks, fuzz } from '../../helpers/images/fuzz';

void mutations;

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
