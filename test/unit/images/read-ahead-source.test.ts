import { describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isImageError } from '../../../shared/images';
import { readAheadFileSource } from '../../../shared/images/parallel-worker';
import { pseudoRandom } from '../../helpers/images/fixtures';
import { useTmpDir } from '../../helpers/images/tmp-dir';

const tmp = useTmpDir('bg-read-ahead-');
const KiB = 1024;

/** Deterministic offsets and lengths: forward steps, jumps back to the front, reads across the window. */
function* accesses(size: number, window: number): Generator<[number, number]> {
  let x = 12345;
  const next = (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % n;
  };
  let at = 0;
  for (let i = 0; i < 3000; i++) {
    const kind = next(4);
    const length = kind === 0 ? 1 : kind === 1 ? 12 : kind === 2 ? 1 + next(window / 2) : 1 + next(window);
    if (next(10) === 0)
      at = next(4 * KiB); // a table near the front
    else at += next(window / 4);
    if (at + length > size) at = next(size - length);
    yield [at, length];
  }
}

describe('readAheadFileSource (the chunk converter’s synchronous source)', () => {
  it('gives the file’s bytes for reads and peeks in any order, the window moving or not', async () => {
    // Prepare
    const content = pseudoRandom(1024 * KiB + 333, 5);
    const path = join(tmp.dir, 'f.bin');
    await writeFile(path, content);
    const window = 64 * KiB;
    const src = readAheadFileSource(path, window);
    try {
      for (const [at, length] of accesses(content.length, window)) {
        // Act
        const read = await src.read(at, length);
        const into = Buffer.alloc(length, 0xee);
        await src.readInto!(at, into);
        const peek = src.peek!(at, length);
        // Assess
        const want = content.subarray(at, at + length);
        expect(read.equals(want), `read ${length} at ${at}`).toBe(true);
        expect(into.equals(want), `readInto ${length} at ${at}`).toBe(true);
        if (length <= window / 2) expect(peek?.equals(want), `peek ${length} at ${at}`).toBe(true);
        else expect(peek).toBeUndefined();
      }
    } finally {
      await src.close();
    }
  });

  it('refuses reads and peeks past the end with BG_IMAGE_TRUNCATED', async () => {
    const path = join(tmp.dir, 'short.bin');
    await writeFile(path, pseudoRandom(1000, 6));
    const src = readAheadFileSource(path, 64 * KiB);
    try {
      const err = await src.read(990, 11).catch((e: unknown) => e);
      expect(isImageError(err) && err.code).toBe('BG_IMAGE_TRUNCATED');
      let peekErr: unknown;
      try {
        src.peek!(999, 2);
      } catch (e) {
        peekErr = e;
      }
      expect(isImageError(peekErr) && peekErr.code).toBe('BG_IMAGE_TRUNCATED');
      // the last byte is still there
      expect((await src.read(999, 1))[0]).toBe(pseudoRandom(1000, 6)[999]);
    } finally {
      await src.close();
    }
  });
});
