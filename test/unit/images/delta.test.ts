import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { applyDelta, checkDeltaBase } from '../../../shared/images/delta-apply';
import {
  DELTA_HEADER_BYTES,
  DELTA_RECORD_BYTES,
  DELTA_TRAILER_BYTES,
} from '../../../shared/images/delta-format';
import { DeltaWriter, writeDelta, type DeltaExtentInput } from '../../../shared/images/delta-writer';
import { OverlayHasher } from '../../../shared/images/overlay-hasher';
import { readDelta, verifyDelta, type DeltaPiece } from '../../../shared/images/delta-reader';
import { diskToRaw, hashDisk } from '../../../shared/images/extents';
import { openRaw } from '../../../shared/images/raw';
import type { RandomAccessDisk } from '../../../shared/images/random-access-disk';
import { bufferSource } from '../../../shared/images/source';
import { chunked, collect, pseudoRandom, sha256 } from '../../helpers/images/fixtures';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A base disk held in memory, opened as the raw format is (every byte data). */
async function rawBase(buf: Buffer): Promise<RandomAccessDisk> {
  return openRaw(bufferSource(buf, 'base'), {});
}

/** A deterministic generator of numbers in [0, n). */
function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

/** The result disk: base resized to `size` (zeros past the base) with the extents applied. */
function expectedResult(base: Buffer, size: number, extents: DeltaExtentInput[]): Buffer {
  const out = Buffer.alloc(size);
  base.copy(out, 0, 0, Math.min(base.length, size));
  for (const e of extents) {
    if (e.kind === 'zero') out.fill(0, e.offset, e.offset + e.length);
    else (e.data as Buffer).copy(out, e.offset);
  }
  return out;
}

/** Random sparse changes: `count` ascending, non-overlapping extents, some of them zero extents. */
function randomExtents(size: number, count: number, seed: number): DeltaExtentInput[] {
  const next = rng(seed);
  const extents: DeltaExtentInput[] = [];
  let pos = 0;
  for (let i = 0; i < count && pos < size; i++) {
    const offset = pos + next(Math.max(1, Math.floor((size - pos) / (count - i + 1))));
    const length = Math.min(size - offset, 1 + next(96 * KiB));
    if (length <= 0) break;
    extents.push(
      next(5) === 0
        ? { kind: 'zero', offset, length }
        : { kind: 'data', offset, data: pseudoRandom(length, seed * 100 + i) },
    );
    pos = offset + length + next(2); // adjacent extents now and then
  }
  return extents;
}

async function makeDelta(
  base: Buffer,
  size: number,
  extents: DeltaExtentInput[],
  header: { baseSha?: boolean; baseCapacity?: boolean } = {},
): Promise<{ delta: Buffer; result: Buffer }> {
  const result = expectedResult(base, size, extents);
  const delta = await collect(
    writeDelta(
      {
        virtualSize: size,
        resultSha256: sha256(result),
        ...(header.baseSha ? { baseSha256: sha256(base) } : {}),
        ...(header.baseCapacity ? { baseCapacity: base.length } : {}),
      },
      extents,
    ),
  );
  return { delta, result };
}

async function rebuildInMemory(base: Buffer, delta: Buffer, chunk = delta.length): Promise<Buffer> {
  const reader = await readDelta(chunked(delta, chunk));
  return collect(diskToRaw(applyDelta(await rawBase(base), reader)));
}

/** Rewrites the CRC-32 of a header/record/trailer, as a forger (or a bug) would. */
function reseal(buf: Buffer, start: number, crcAt: number): void {
  buf.writeUInt32BE(crc32(buf.subarray(start, start + crcAt)) >>> 0, start + crcAt);
}

describe('delta format: write then read', () => {
  it('reads back every extent, piece by piece, from 1-byte chunks', async () => {
    // Prepare
    const base = pseudoRandom(300 * KiB + 7, 1);
    const extents: DeltaExtentInput[] = [
      { kind: 'data', offset: 10, data: pseudoRandom(5000, 2) },
      { kind: 'zero', offset: 5010, length: 4000 },
      { kind: 'data', offset: 200 * KiB, data: pseudoRandom(70 * KiB, 3) },
    ];
    const { delta, result } = await makeDelta(base, base.length, extents, {
      baseSha: true,
      baseCapacity: true,
    });
    // Act
    const reader = await readDelta(chunked(delta, 1), { chunkSize: 16 * KiB });
    const pieces: DeltaPiece[] = [];
    for await (const p of reader.pieces) pieces.push(p);
    // Assess
    expect(reader.header).toEqual({
      version: 1,
      virtualSize: base.length,
      baseCapacity: base.length,
      baseSha256: sha256(base),
    });
    expect(reader.trailer()).toEqual({
      extents: 3,
      dataBytes: 5000 + 70 * KiB,
      zeroBytes: 4000,
      resultSha256: sha256(result),
    });
    expect(pieces.every((p) => p.kind === 'zero' || p.data.length <= 16 * KiB)).toBe(true);
    expect(pieces.filter((p) => p.kind === 'data' && p.extentEnd).map((p) => p.offset)).toEqual([
      10,
      200 * KiB + 64 * KiB,
    ]);
    const rebuilt = Buffer.alloc(base.length);
    for (const p of pieces) if (p.kind === 'data') p.data.copy(rebuilt, p.offset);
    expect(rebuilt.subarray(200 * KiB, 270 * KiB).equals((extents[2] as { data: Buffer }).data)).toBe(true);
    expect(delta.length).toBe(
      DELTA_HEADER_BYTES + 3 * DELTA_RECORD_BYTES + 2 * 32 + 5000 + 70 * KiB + DELTA_TRAILER_BYTES,
    );
  });

  it('streams an extent whose data arrives in pieces, with its length declared up front', async () => {
    // Prepare
    const data = pseudoRandom(3 * MiB + 5, 4);
    async function* parts(): AsyncGenerator<Buffer> {
      for (let off = 0; off < data.length; off += 512 * KiB) yield data.subarray(off, off + 512 * KiB);
    }
    const result = Buffer.alloc(4 * MiB);
    data.copy(result, 100);
    // Act
    const delta = await collect(
      writeDelta({ virtualSize: 4 * MiB, resultSha256: () => sha256(result) }, [
        { kind: 'data', offset: 100, length: data.length, data: parts() },
      ]),
    );
    // Assess
    expect((await rebuildInMemory(Buffer.alloc(0), delta)).equals(result)).toBe(true);
  });

  it('computes the result hash from the base when given one (OverlayHasher)', async () => {
    // Prepare
    const base = pseudoRandom(1 * MiB + 333, 5);
    const extents = randomExtents(base.length + 100 * KiB, 12, 6);
    const result = expectedResult(base, base.length + 100 * KiB, extents);
    // Act
    const delta = await collect(
      writeDelta({ virtualSize: result.length, base: await rawBase(base) }, extents),
    );
    const { header, trailer } = await verifyDelta(chunked(delta, 4096));
    // Assess
    expect(trailer.resultSha256).toBe(sha256(result));
    expect(header.baseCapacity).toBe(base.length);
    const h = new OverlayHasher(undefined, 3000);
    await h.advanceTo(1000);
    h.data(Buffer.from('x'));
    expect(await h.digest()).toBe(
      sha256(Buffer.concat([Buffer.alloc(1000), Buffer.from('x'), Buffer.alloc(1999)])),
    );
  });

  it('refuses a streamed extent shorter or longer than its declared length', async () => {
    // Prepare
    const write = (declared: number, actual: number) =>
      collect(
        writeDelta({ virtualSize: MiB, resultSha256: '0'.repeat(64) }, [
          { kind: 'data', offset: 0, length: declared, data: chunked(pseudoRandom(actual, 8), 100) },
        ]),
      );
    // Act / Assess
    await expect(write(1000, 999)).rejects.toMatchObject({ code: 'BG_IMAGE_STREAM_STATE' });
    await expect(write(1000, 1001)).rejects.toMatchObject({ code: 'BG_IMAGE_STREAM_STATE' });
    await expect(write(1000, 1000)).resolves.toBeInstanceOf(Buffer);
  });

  it('writes the same bytes through the push-style DeltaWriter', async () => {
    // Prepare
    const data = pseudoRandom(1000, 7);
    const result = Buffer.alloc(8192);
    data.copy(result, 512);
    const w = new DeltaWriter({ virtualSize: 8192 });
    // Act
    const pushed = Buffer.concat([
      w.header(),
      w.beginExtent(512, 1000),
      w.data(data.subarray(0, 300)),
      w.data(data.subarray(300)),
      w.endExtent(),
      w.zeroExtent(4096, 4096),
      w.finish(sha256(result)),
    ]);
    const streamed = await collect(
      writeDelta({ virtualSize: 8192, resultSha256: sha256(result) }, [
        { kind: 'data', offset: 512, data },
        { kind: 'zero', offset: 4096, length: 4096 },
      ]),
    );
    // Assess
    expect(pushed.equals(streamed)).toBe(true);
    expect(w.bytesOut).toBe(pushed.length);
    expect(w.summary).toEqual({ extents: 2, dataBytes: 1000, zeroBytes: 4096 });
  });

  it('refuses writer misuse: overlap, past the end, empty, short data, calls out of turn', () => {
    // Prepare
    const w = new DeltaWriter({ virtualSize: 4096 });
    // Act / Assess
    expect(() => w.beginExtent(0, 10)).toThrowError(
      expect.objectContaining({ code: 'BG_IMAGE_STREAM_STATE' }),
    );
    w.header();
    w.extent(100, Buffer.alloc(100, 1));
    expect(() => w.beginExtent(150, 10)).toThrowError(
      expect.objectContaining({
        code: 'BG_IMAGE_INVALID_ARGUMENT',
        message: expect.stringMatching(/ascend/),
      }),
    );
    expect(() => w.zeroExtent(4000, 100)).toThrowError(
      expect.objectContaining({ code: 'BG_IMAGE_INVALID_ARGUMENT' }),
    );
    expect(() => w.zeroExtent(300, 0)).toThrowError(
      expect.objectContaining({ code: 'BG_IMAGE_INVALID_ARGUMENT' }),
    );
    w.beginExtent(200, 10);
    expect(() => w.data(Buffer.alloc(11))).toThrowError(
      expect.objectContaining({ code: 'BG_IMAGE_STREAM_STATE' }),
    );
    w.data(Buffer.alloc(9));
    expect(() => w.endExtent()).toThrowError(expect.objectContaining({ code: 'BG_IMAGE_STREAM_STATE' }));
    expect(() => w.finish('00'.repeat(32))).toThrowError(
      expect.objectContaining({ code: 'BG_IMAGE_STREAM_STATE' }),
    );
    expect(() => new DeltaWriter({ virtualSize: 10, baseSha256: 'abc' }).header()).toThrowError(
      expect.objectContaining({ code: 'BG_IMAGE_INVALID_ARGUMENT' }),
    );
    expect(() => new DeltaWriter({ virtualSize: 2 * MiB, limits: { maxVirtualSize: MiB } })).toThrowError(
      expect.objectContaining({ code: 'BG_DELTA_LIMIT' }),
    );
  });
});

describe('applyDelta on generated disks', () => {
  const cases: Array<{ name: string; baseSize: number; size: number; count: number; seed: number }> = [
    { name: 'random sparse changes', baseSize: 4 * MiB, size: 4 * MiB, count: 40, seed: 11 },
    {
      name: 'a size that is not a multiple of 512',
      baseSize: 3 * MiB + 123,
      size: 3 * MiB + 123,
      count: 25,
      seed: 12,
    },
    {
      name: 'a change that grows the disk',
      baseSize: 2 * MiB + 17,
      size: 3 * MiB + 1000,
      count: 20,
      seed: 13,
    },
    { name: 'a disk that shrinks', baseSize: 3 * MiB, size: 2 * MiB + 512, count: 10, seed: 14 },
    { name: 'an empty delta', baseSize: MiB + 1, size: MiB + 1, count: 0, seed: 15 },
  ];
  for (const c of cases) {
    it(`rebuilds the result: ${c.name}`, async () => {
      // Prepare: a base with data and holes, then changes
      const base = Buffer.alloc(c.baseSize);
      pseudoRandom(Math.floor(c.baseSize / 3), c.seed).copy(base, Math.floor(c.baseSize / 3));
      base.fill(7, 0, 4096);
      const extents = randomExtents(c.size, c.count, c.seed);
      const { delta, result } = await makeDelta(base, c.size, extents, { baseSha: true, baseCapacity: true });
      // Act
      const reader = await readDelta(chunked(delta, 64 * KiB + 3));
      const applied = applyDelta(await rawBase(base), reader);
      const { sha256: got, capacity } = await hashDisk(applied);
      // Assess
      expect(capacity).toBe(c.size);
      expect(got).toBe(sha256(result));
      const dataExtents = extents.filter((e) => e.kind === 'data') as Array<{ data: Buffer }>;
      expect(applied.summary()).toEqual({
        sha256: sha256(result),
        extents: extents.length,
        bytesApplied: dataExtents.reduce((n, e) => n + e.data.length, 0),
        zeroBytes: extents.reduce((n, e) => n + (e.kind === 'zero' ? e.length : 0), 0),
      });
    });
  }

  it('keeps a zero extent as a zero extent: the zeroed range is never read from the base nor sent as data', async () => {
    // Prepare
    const base = pseudoRandom(2 * MiB, 21);
    const extents: DeltaExtentInput[] = [{ kind: 'zero', offset: 256 * KiB, length: MiB }];
    const { delta, result } = await makeDelta(base, base.length, extents);
    const reads: Array<[number, number]> = [];
    const raw = await rawBase(base);
    const counting: RandomAccessDisk = {
      ...raw,
      map: (o, l) => raw.map(o, l),
      read: (o, l) => {
        reads.push([o, l]);
        return raw.read(o, l);
      },
    };
    // Act
    const applied = applyDelta(counting, await readDelta(chunked(delta, 100)));
    const out: Array<{ kind: string; offset: number; length: number }> = [];
    for await (const e of applied.extents) {
      out.push({ kind: e.kind, offset: e.offset, length: e.kind === 'data' ? e.data.length : e.length });
    }
    // Assess
    expect(out.find((e) => e.kind === 'zero')).toEqual({ kind: 'zero', offset: 256 * KiB, length: MiB });
    expect(reads.every(([o, l]) => o + l <= 256 * KiB || o >= 256 * KiB + MiB)).toBe(true);
    expect(applied.summary()?.sha256).toBe(sha256(result));
    expect(delta.length).toBeLessThan(200);
  });

  it('rebuilds from 1-byte chunks of the delta', async () => {
    // Prepare
    const base = pseudoRandom(200 * KiB + 3, 31);
    const { delta, result } = await makeDelta(base, base.length, randomExtents(base.length, 8, 32));
    // Act
    const rebuilt = await rebuildInMemory(base, delta, 1);
    // Assess
    expect(rebuilt.equals(result)).toBe(true);
  });
});

describe('damaged deltas and wrong bases', () => {
  async function sample() {
    const base = pseudoRandom(512 * KiB, 41);
    const extents: DeltaExtentInput[] = [
      { kind: 'data', offset: 1000, data: pseudoRandom(3000, 42) },
      { kind: 'zero', offset: 8192, length: 8192 },
      { kind: 'data', offset: 100 * KiB, data: pseudoRandom(20 * KiB, 43) },
    ];
    const made = await makeDelta(base, base.length, extents, { baseSha: true, baseCapacity: true });
    // byte offsets of the parts of the file
    const rec1 = DELTA_HEADER_BYTES;
    const data1 = rec1 + DELTA_RECORD_BYTES;
    const hash1 = data1 + 3000;
    const rec2 = hash1 + 32;
    const rec3 = rec2 + DELTA_RECORD_BYTES;
    const trailer = made.delta.length - DELTA_TRAILER_BYTES;
    return { base, ...made, at: { rec1, data1, hash1, rec2, rec3, trailer } };
  }

  async function outcome(base: Buffer, delta: Buffer, chunk = 4096): Promise<string> {
    try {
      await rebuildInMemory(base, delta, chunk);
      return 'ok';
    } catch (err) {
      return (err as { code?: string }).code ?? String(err);
    }
  }

  it('names what is wrong with a stable code', async () => {
    // Prepare
    const s = await sample();
    const tamper = (edit: (b: Buffer) => void): Buffer => {
      const b = Buffer.from(s.delta);
      edit(b);
      return b;
    };
    const cases: Array<[string, Buffer, string]> = [
      ['intact', s.delta, 'ok'],
      ['a flipped data byte', tamper((b) => void (b[s.at.data1 + 10]! ^= 1)), 'BG_DELTA_EXTENT_MISMATCH'],
      [
        'a flipped extent hash byte',
        tamper((b) => void (b[s.at.hash1 + 3]! ^= 0x80)),
        'BG_DELTA_EXTENT_MISMATCH',
      ],
      ['a flipped offset', tamper((b) => void (b[s.at.rec1 + 14]! ^= 4)), 'BG_DELTA_BAD_RECORD'],
      ['an unknown record type', tamper((b) => b.write('JUNK', s.at.rec2, 'latin1')), 'BG_DELTA_BAD_RECORD'],
      [
        'a resealed offset that goes backwards',
        tamper((b) => {
          b.writeBigUInt64BE(0n, s.at.rec2 + 8);
          reseal(b, s.at.rec2, 28);
        }),
        'BG_DELTA_BAD_RECORD',
      ],
      [
        'a resealed result hash',
        tamper((b) => {
          b[s.at.trailer + 40]! ^= 1;
          reseal(b, s.at.trailer, 68);
        }),
        'BG_DELTA_RESULT_MISMATCH',
      ],
      ['a flipped result hash', tamper((b) => void (b[s.at.trailer + 40]! ^= 1)), 'BG_DELTA_BAD_TRAILER'],
      [
        'a wrong extent count',
        tamper((b) => {
          b.writeBigUInt64BE(4n, s.at.trailer + 8);
          reseal(b, s.at.trailer, 68);
        }),
        'BG_DELTA_BAD_TRAILER',
      ],
      ['a wrong magic', tamper((b) => b.write('XG', 0, 'latin1')), 'BG_DELTA_BAD_HEADER'],
      ['a flipped header byte', tamper((b) => void (b[20]! ^= 1)), 'BG_DELTA_BAD_HEADER'],
      [
        'version 2',
        tamper((b) => {
          b.writeUInt32BE(2, 8);
          reseal(b, 0, 68);
        }),
        'BG_DELTA_UNSUPPORTED_VERSION',
      ],
      ['data after the trailer', Buffer.concat([s.delta, Buffer.from([0])]), 'BG_DELTA_TRAILING_DATA'],
    ];
    // Act
    const got = await Promise.all(cases.map(async ([name, delta]) => [name, await outcome(s.base, delta)]));
    // Assess
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(cases.map(([name, , code]) => [name, code])));
  });

  it('reports a delta cut anywhere as BG_DELTA_TRUNCATED, from 1-byte chunks too', async () => {
    // Prepare
    const s = await sample();
    const cuts = [
      0,
      5,
      DELTA_HEADER_BYTES,
      s.at.rec1 + 10,
      s.at.data1 + 1,
      s.at.hash1 + 31,
      s.at.rec3,
      s.at.trailer,
      s.delta.length - 1,
    ];
    // Act
    const got = await Promise.all(
      cuts.map((n) => outcome(s.base, s.delta.subarray(0, n), n % 2 === 0 ? 1 : 4096)),
    );
    // Assess
    expect(got).toEqual(cuts.map(() => 'BG_DELTA_TRUNCATED'));
  });

  it('refuses a base of another size at once and a base with other content before reading the delta', async () => {
    // Prepare
    const s = await sample();
    const reader = await readDelta(chunked(s.delta, 4096));
    const other = Buffer.from(s.base);
    other[400 * KiB]! ^= 1; // a byte no extent covers
    // Act / Assess
    expect(() => applyDelta(openRawSync(Buffer.alloc(s.base.length + 512)), reader)).toThrowError(
      expect.objectContaining({
        code: 'BG_DELTA_WRONG_BASE',
        message: expect.stringMatching(/offloaded from/),
      }),
    );
    await expect(checkDeltaBase(reader.header, await rawBase(other))).rejects.toMatchObject({
      code: 'BG_DELTA_WRONG_BASE',
    });
    await expect(checkDeltaBase(reader.header, await rawBase(s.base))).resolves.toBeUndefined();
    await reader.close();
  });

  it('without base information, a base that differs where nothing changed fails at the end', async () => {
    // Prepare
    const s = await sample();
    const { delta } = await makeDelta(s.base, s.base.length, [
      { kind: 'data', offset: 0, data: Buffer.alloc(10, 9) },
    ]);
    const other = Buffer.from(s.base);
    other[300 * KiB]! ^= 1;
    // Act / Assess
    expect(await outcome(other, delta)).toBe('BG_DELTA_RESULT_MISMATCH');
  });

  it('enforces its limits with BG_DELTA_LIMIT', async () => {
    // Prepare
    const s = await sample();
    const read = async (opts: Parameters<typeof readDelta>[1]) => {
      try {
        await verifyDelta(chunked(s.delta, 4096), opts);
        return 'ok';
      } catch (err) {
        return (err as { code?: string }).code;
      }
    };
    // Act / Assess
    expect(await read({ maxExtents: 2 })).toBe('BG_DELTA_LIMIT');
    expect(await read({ maxExtentBytes: 10 * KiB })).toBe('BG_DELTA_LIMIT');
    expect(await read({ maxVirtualSize: 256 * KiB })).toBe('BG_DELTA_LIMIT');
    expect(await read({ maxExtents: 3, maxExtentBytes: 20 * KiB, maxVirtualSize: 512 * KiB })).toBe('ok');
  });
});

function openRawSync(buf: Buffer): RandomAccessDisk {
  return {
    format: 'raw',
    capacity: buf.length,
    map: async function* (offset = 0, length = buf.length - offset) {
      if (length > 0) yield { offset, length, zero: false };
    },
    read: async (o, l) => buf.subarray(o, o + l),
  };
}

// keeps the hash helper honest: the delta's hashes are plain SHA-256 of the bytes
it('per-extent hashes are the SHA-256 of the extent bytes', async () => {
  // Prepare
  const data = pseudoRandom(777, 51);
  // Act
  const delta = await collect(
    writeDelta({ virtualSize: 1000, resultSha256: '0'.repeat(64) }, [{ kind: 'data', offset: 1, data }]),
  );
  // Assess
  const stored = delta.subarray(
    DELTA_HEADER_BYTES + DELTA_RECORD_BYTES + 777,
    DELTA_HEADER_BYTES + DELTA_RECORD_BYTES + 777 + 32,
  );
  expect(stored.toString('hex')).toBe(createHash('sha256').update(data).digest('hex'));
});
