import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { bufferSource } from '../../../shared/images/source';
import { indexTar, readTar, writeTar } from '../../../shared/images/tar';
import { RUNS, mutations, mutate, imageErrorsOnly, chunks, fuzz } from '../../helpers/images/fuzz';
import { collect } from '../../helpers/bytes';

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
