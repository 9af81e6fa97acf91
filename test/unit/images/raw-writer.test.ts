/** writeRawSparse: the raw file equals the disk, zero ranges are holes, failures leave no file. */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { isImageError } from '../../../shared/images/errors';
import { diskFromBuffer, type DiskExtent, type DiskStream } from '../../../shared/images/extents';
import { writeRawSparse } from '../../../shared/images/raw-writer';
import { join, pseudoRandom, qemuImg, rawDisk, sha256, writeSparseRaw } from '../../helpers/images/fixtures';
import { useTmpDir } from '../../helpers/images/tmp-dir';

const tmp = useTmpDir('bg-raw-writer-');
const KiB = 1024;
const MiB = 1024 * KiB;

describe('writeRawSparse', () => {
  it('writes a sparse disk whose bytes equal the source, with holes for the zeros', async () => {
    // Prepare: 64 MiB + 300 bytes, 3 small data runs
    const capacity = 64 * MiB + 300;
    const patches = [
      { offset: 5, data: pseudoRandom(1000, 1) },
      { offset: 33 * MiB + 7, data: pseudoRandom(100 * KiB, 2) },
      { offset: capacity - 3, data: Buffer.from('end') },
    ];
    const raw = rawDisk(capacity, patches);
    const out = join(tmp.dir, 'sparse.raw');
    // Act
    const written = await writeRawSparse(diskFromBuffer(raw), out);
    // Assess
    const st = await stat(out);
    expect(st.size).toBe(capacity);
    expect(sha256(await readFile(out))).toBe(sha256(raw));
    expect(written).toBeLessThanOrEqual(5 * 64 * KiB);
    expect(written).toBeGreaterThanOrEqual(1000 + 100 * KiB + 3);
    expect(st.blocks * 512).toBeLessThan(capacity / 50);
  });

  it('leaves all-zero blocks inside data extents as holes, and agrees with qemu-img compare', async () => {
    // Prepare: one 8 MiB data extent that is mostly zeros
    const buf = Buffer.alloc(8 * MiB);
    buf.fill(1, 3 * MiB, 3 * MiB + 10);
    const disk: DiskStream = {
      capacity: buf.length,
      extents: (async function* (): AsyncGenerator<DiskExtent> {
        yield { kind: 'data', offset: 0, data: buf };
      })(),
    };
    const out = join(tmp.dir, 'zeros-in-data.raw');
    const ref = join(tmp.dir, 'zeros-in-data.ref.raw');
    await writeSparseRaw(ref, buf.length, [{ offset: 3 * MiB, data: buf.subarray(3 * MiB, 3 * MiB + 10) }]);
    // Act
    const written = await writeRawSparse(disk, out);
    // Assess
    expect(written).toBe(64 * KiB);
    expect((await stat(out)).blocks * 512).toBeLessThanOrEqual(256 * KiB);
    const cmp = await qemuImg('compare', '-f', 'raw', '-F', 'raw', out, ref);
    expect(cmp.stdout).toContain('Images are identical');
    // and without zero detection every data byte is written
    expect(
      await writeRawSparse(diskFromBuffer(buf, { blockSize: 8 * MiB }), out, { zeroDetect: false }),
    ).toBe(8 * MiB);
    expect(sha256(await readFile(out))).toBe(sha256(buf));
  });

  it('an empty disk is one hole; a full disk is all written', async () => {
    // Prepare
    const empty = join(tmp.dir, 'empty.raw');
    const full = join(tmp.dir, 'full.raw');
    const data = pseudoRandom(2 * MiB + 512, 5);
    // Act
    const w0 = await writeRawSparse(diskFromBuffer(Buffer.alloc(3 * MiB + 512)), empty);
    const w1 = await writeRawSparse(diskFromBuffer(data), full);
    // Assess
    expect(w0).toBe(0);
    expect((await stat(empty)).size).toBe(3 * MiB + 512);
    expect((await stat(empty)).blocks).toBe(0);
    expect(w1).toBe(data.length);
    expect((await readFile(full)).equals(data)).toBe(true);
  });

  it('a stream that fails or lies about its extents leaves no file behind', async () => {
    // Prepare
    const failing: DiskStream = {
      capacity: MiB,
      extents: (async function* (): AsyncGenerator<DiskExtent> {
        yield { kind: 'data', offset: 0, data: Buffer.alloc(512, 1) };
        throw new Error('source went away');
      })(),
    };
    const gap: DiskStream = {
      capacity: MiB,
      extents: (async function* (): AsyncGenerator<DiskExtent> {
        yield { kind: 'data', offset: 512, data: Buffer.alloc(512, 1) };
      })(),
    };
    const a = join(tmp.dir, 'failing.raw');
    const b = join(tmp.dir, 'gap.raw');
    // Act + Assess
    await expect(writeRawSparse(failing, a)).rejects.toThrow('source went away');
    await expect(writeRawSparse(gap, b)).rejects.toSatisfy((e: unknown) =>
      isImageError(e, 'BG_IMAGE_STREAM_STATE'),
    );
    expect(existsSync(a)).toBe(false);
    expect(existsSync(b)).toBe(false);
  });
});
