import { describe, expect, it } from 'vitest';
import { ImageError } from '../../../shared/images/errors';
import {
  diskFromBuffer,
  diskToRaw,
  hashDisk,
  rawToDisk,
  type DiskExtent,
} from '../../../shared/images/extents';
import { chunked, collect, pseudoRandom, rawDisk, sha256 } from '../../helpers/images/fixtures';

async function extentsOf(ext: AsyncIterable<DiskExtent>): Promise<DiskExtent[]> {
  const out: DiskExtent[] = [];
  for await (const e of ext) out.push(e);
  return out;
}

describe('extents', () => {
  it('diskFromBuffer zero-detects in 64 KiB blocks and coalesces zero runs', async () => {
    // Prepare
    const buf = rawDisk(5 * 65536 + 100, [
      { offset: 10, data: Buffer.from('a') },
      { offset: 4 * 65536, data: Buffer.from('b') },
    ]);
    // Act
    const ex = await extentsOf(diskFromBuffer(buf).extents);
    // Assess
    expect(ex.map((e) => [e.kind, e.offset, e.kind === 'data' ? e.data.length : e.length])).toEqual([
      ['data', 0, 65536],
      ['zero', 65536, 3 * 65536],
      ['data', 4 * 65536, 65536],
      ['zero', 5 * 65536, 100],
    ]);
  });

  it('rawToDisk works with 1-byte chunks and gives the same hash as the bytes', async () => {
    // Prepare
    const buf = rawDisk(3 * 65536 + 7, [{ offset: 65536 + 3, data: pseudoRandom(1000) }]);
    // Act
    const h = await hashDisk(rawToDisk(chunked(buf, 1), buf.length));
    // Assess
    expect(h.sha256).toBe(sha256(buf));
    expect(h.capacity).toBe(buf.length);
    expect(h.dataBytes).toBe(65536);
  });

  it('rawToDisk with uneven chunks round-trips through diskToRaw', async () => {
    const buf = rawDisk(300_001, [
      { offset: 0, data: pseudoRandom(10) },
      { offset: 299_990, data: pseudoRandom(11) },
    ]);
    const out = await collect(diskToRaw(rawToDisk(chunked(buf, 777), buf.length), { chunkSize: 4096 }));
    expect(out.equals(buf)).toBe(true);
  });

  it('rawToDisk rejects input that ends early with BG_IMAGE_TRUNCATED and longer input with BG_IMAGE_TRAILING_DATA', async () => {
    const buf = pseudoRandom(1000);
    await expect(hashDisk(rawToDisk(chunked(buf, 100), 2000))).rejects.toMatchObject({
      name: 'ImageError',
      code: 'BG_IMAGE_TRUNCATED',
    });
    await expect(hashDisk(rawToDisk(chunked(buf, 100), 999))).rejects.toMatchObject({
      code: 'BG_IMAGE_TRAILING_DATA',
    });
  });

  it('hashDisk of a large sparse disk stays cheap in memory and equals the hash of the zeros', async () => {
    const capacity = 64 * 1024 * 1024;
    const disk = {
      capacity,
      extents: (async function* () {
        yield { kind: 'zero' as const, offset: 0, length: capacity };
      })(),
    };
    const h = await hashDisk(disk);
    expect(h.sha256).toBe(sha256(Buffer.alloc(capacity)));
    expect(h.dataBytes).toBe(0);
  });

  it('ImageError carries code, name and cause', () => {
    const cause = new Error('x');
    const e = new ImageError('BG_IMAGE_TRUNCATED', 'msg', { cause });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('ImageError');
    expect(e.code).toBe('BG_IMAGE_TRUNCATED');
    expect(e.cause).toBe(cause);
  });
});
