import fc from 'fast-check';
import { crc32 } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyDelta, checkDeltaBase } from '../../../shared/images/delta-apply';
import { DELTA_HEADER_BYTES, DELTA_RECORD_BYTES } from '../../../shared/images/delta-format';
import { readDelta } from '../../../shared/images/delta-reader';
import { writeDelta } from '../../../shared/images/delta-writer';
import { hashDisk } from '../../../shared/images/extents';
import { openRaw } from '../../../shared/images/raw';
import { bufferSource } from '../../../shared/images/source';
import { collect, pseudoRandom, sha256 } from '../../helpers/images/fixtures';
import { RUNS, chunks, fuzz, imageErrorsOnly, mutate, mutations } from '../../helpers/images/fuzz';

const BASE_SIZE = 16 * 1024;
let base: Buffer;
let delta: Buffer;
let resultSha: string;
/** Offsets of header fields and of the first records' fields: mutated as often as any other byte. */
const HOT: number[] = [];

function reseal(buf: Buffer, start: number, crcAt: number): void {
  if (start + crcAt + 4 <= buf.length) {
    buf.writeUInt32BE(crc32(buf.subarray(start, start + crcAt)) >>> 0, start + crcAt);
  }
}

/** Rewrites every CRC the way the reader walks the file, so mutations reach the fields behind them. */
function resealAll(buf: Buffer): Buffer {
  reseal(buf, 0, 68);
  let at = DELTA_HEADER_BYTES;
  while (at + DELTA_RECORD_BYTES <= buf.length) {
    const tag = buf.subarray(at, at + 4).toString('latin1');
    if (tag === 'TAIL') {
      reseal(buf, at, 68);
      break;
    }
    if (tag !== 'DATA' && tag !== 'ZERO') break;
    reseal(buf, at, 28);
    const length = Number(buf.readBigUInt64BE(at + 16));
    at += DELTA_RECORD_BYTES + (tag === 'DATA' ? length + 32 : 0);
  }
  return buf;
}

beforeAll(async () => {
  base = Buffer.alloc(BASE_SIZE);
  pseudoRandom(6000, 1).copy(base, 2000);
  const result = Buffer.alloc(BASE_SIZE + 1000);
  base.copy(result);
  const a = pseudoRandom(700, 2);
  const b = pseudoRandom(300, 3);
  a.copy(result, 100);
  result.fill(0, 3000, 5000);
  b.copy(result, BASE_SIZE + 200);
  resultSha = sha256(result);
  delta = await collect(
    writeDelta(
      {
        virtualSize: result.length,
        resultSha256: resultSha,
        baseSha256: sha256(base),
        baseCapacity: BASE_SIZE,
      },
      [
        { kind: 'data', offset: 100, data: a },
        { kind: 'zero', offset: 3000, length: 2000 },
        { kind: 'data', offset: BASE_SIZE + 200, data: b },
      ],
    ),
  );
  for (const h of [8, 12, 16, 23, 24, 31, 32, 64, 68]) HOT.push(h);
  for (const rec of [72, 72 + 32 + 700 + 32, 72 + 32 + 700 + 32 + 32]) {
    for (const h of [0, 3, 4, 8, 15, 16, 23, 24, 28]) HOT.push(rec + h);
  }
  const tail = delta.length - 72;
  for (const h of [0, 8, 15, 16, 24, 32, 64, 68]) HOT.push(tail + h);
});

describe('fuzz: readDelta + applyDelta', () => {
  it(`${RUNS} cases: a mutated delta rebuilds the one right disk or fails with an ImageError`, async () => {
    // Prepare
    const arb = fc.record({
      ms: mutations(HOT),
      fix: fc.boolean(),
      chunk: fc.constantFrom(1, 33, 512, 1 << 20),
      checkBase: fc.boolean(),
    });
    // Act
    const outcomes = await fuzz('fuzz-delta', arb, async ({ ms, fix, chunk, checkBase }) => {
      const m = mutate(delta, ms);
      const buf = fix ? resealAll(m) : m;
      return imageErrorsOnly(async () => {
        const reader = await readDelta(chunks(buf, chunk), { chunkSize: 512 });
        const disk = await openRaw(bufferSource(base, 'base'), {});
        if (checkBase) await checkDeltaBase(reader.header, disk);
        const applied = applyDelta(disk, reader);
        const { sha256: got } = await hashDisk(applied);
        // Assess (per case): whatever was accepted is exactly the disk the trailer promises
        expect(got).toBe(reader.trailer()!.resultSha256);
      });
    });
    // Assess
    const codes = [...outcomes.keys()];
    expect(codes.every((c) => c === 'ok' || c.startsWith('BG_DELTA_') || c.startsWith('BG_IMAGE_'))).toBe(
      true,
    );
    expect(codes).toEqual(expect.arrayContaining(['BG_DELTA_BAD_RECORD', 'BG_DELTA_TRUNCATED']));
  });
});
