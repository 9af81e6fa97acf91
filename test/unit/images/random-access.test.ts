import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { bufferSource, hashDisk, isImageError, openRandomAccess, streamFrom } from '../../../shared/images';

function sparseRaw(): Buffer {
  const buf = Buffer.alloc(1024 * 1024);
  buf.fill(7, 0, 512);
  buf.fill(9, 700_000, 700_100);
  return buf;
}

describe('openRandomAccess (raw) and streamFrom', () => {
  it('reads any range and streams the disk with zeros found, hashing like the bytes', async () => {
    // Prepare
    const buf = sparseRaw();
    const disk = await openRandomAccess(bufferSource(buf), { format: 'raw' });
    // Act
    const middle = await disk.read(699_990, 20);
    const hashed = await hashDisk(streamFrom(disk, { chunkSize: 100_000 }));
    // Assess
    expect(middle).toEqual(buf.subarray(699_990, 700_010));
    expect(hashed.sha256).toBe(createHash('sha256').update(buf).digest('hex'));
    expect(hashed.dataBytes).toBeLessThan(buf.length / 4);
  });

  it('streams a range with offsets from its start', async () => {
    const buf = sparseRaw();
    const disk = await openRandomAccess(bufferSource(buf), { format: 'raw' });
    const range = streamFrom(disk, { offset: 655_360, length: 131_072 });
    const hashed = await hashDisk(range);
    expect(hashed.capacity).toBe(131_072);
    expect(hashed.sha256).toBe(createHash('sha256').update(buf.subarray(655_360, 786_432)).digest('hex'));
  });

  it('refuses reads past the end with BG_IMAGE_TRUNCATED and unknown formats with a typed error', async () => {
    const src = bufferSource(Buffer.alloc(1024), 'small.img');
    await expect(src.read(1000, 100)).rejects.toSatisfy((e: unknown) =>
      isImageError(e, 'BG_IMAGE_TRUNCATED'),
    );
    await expect(openRandomAccess(src, { format: 'ova' })).rejects.toSatisfy((e: unknown) =>
      isImageError(e, 'BG_IMAGE_UNSUPPORTED_FORMAT'),
    );
  });
});
