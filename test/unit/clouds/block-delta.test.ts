/**
 * writeBlockDelta: a local disk against the block manifest of the snapshot it would go on top of.
 * The delta must rebuild the local disk from the base, carry only whole 512 KiB blocks that differ,
 * and refuse what a child snapshot cannot be.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeBlockDelta } from '../../../shared/clouds/aws/block-delta';
import { openBaseImage } from '../../../shared/images/base-image';
import { readDelta } from '../../../shared/images/delta-reader';
import { rebuildFromDelta } from '../../../shared/images/delta-rebuild';
import {
  EBS_BLOCK_BYTES,
  blockManifest,
  ebsBlocks,
  type BlockManifest,
} from '../../../shared/clouds/aws/ebs-blocks';
import { sha256 } from '../../helpers/bytes';

const B = EBS_BLOCK_BYTES;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bg-block-delta-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function manifestOf(path: string): Promise<BlockManifest> {
  const base = await openBaseImage(path);
  try {
    const blocks = [];
    for await (const b of ebsBlocks(base.disk, { index: 0, offset: 0, length: base.disk.capacity })) {
      blocks.push({ index: b.index, sha256Base64: b.sha256Base64 });
    }
    return blockManifest(base.disk.capacity, blocks);
  } finally {
    await base.close();
  }
}

/** Writes `base` and `local` as raw files, the delta of local against base, and reads it back. */
async function deltaOf(name: string, base: Buffer, local: Buffer) {
  const basePath = join(dir, `${name}-base.raw`);
  const localPath = join(dir, `${name}-local.raw`);
  const deltaPath = join(dir, `${name}.bgdelta`);
  await writeFile(basePath, base);
  await writeFile(localPath, local);
  const opened = await openBaseImage(localPath);
  try {
    const summary = await writeBlockDelta(
      opened.disk,
      { manifest: await manifestOf(basePath), sha256: sha256(base), capacity: base.length },
      deltaPath,
    );
    const extents: Array<{ kind: string; offset: number; length: number }> = [];
    const reader = await readDelta(createReadStream(deltaPath));
    let open: { offset: number; length: number } | undefined;
    for await (const p of reader.pieces) {
      if (p.kind === 'zero') extents.push({ kind: 'zero', offset: p.offset, length: p.length });
      else {
        open ??= { offset: p.offset, length: 0 };
        open.length += p.data.length;
        if (p.extentEnd) {
          extents.push({ kind: 'data', ...open });
          open = undefined;
        }
      }
    }
    return { summary, extents, header: reader.header, trailer: reader.trailer()!, basePath, deltaPath };
  } finally {
    await opened.close();
  }
}

describe('writeBlockDelta', () => {
  it('carries only the changed and zeroed blocks, and rebuilds the local disk from the base', async () => {
    // Prepare: a 4 MiB + 100 KiB disk (the last block partial) with data in blocks 1, 2, 5 and the tail
    const base = Buffer.alloc(8 * B + 100 * 1024);
    randomBytes(2 * B).copy(base, B);
    randomBytes(B).copy(base, 5 * B);
    randomBytes(100 * 1024).copy(base, 8 * B);
    const local = Buffer.from(base);
    randomBytes(10).copy(local, 2 * B + 4096); // a few bytes of block 2 change
    local.fill(0, 5 * B, 6 * B); // block 5 is trimmed
    randomBytes(B).copy(local, 6 * B); // block 6 gets data
    randomBytes(1).copy(local, local.length - 1); // the partial last block changes

    // Act
    const d = await deltaOf('mixed', base, local);

    // Assess: blocks 2, 6 and 8 as data (6 alone, 8 cut at the capacity), block 5 as zeros
    expect(d.extents).toEqual([
      { kind: 'data', offset: 2 * B, length: B },
      { kind: 'zero', offset: 5 * B, length: B },
      { kind: 'data', offset: 6 * B, length: B },
      { kind: 'data', offset: 8 * B, length: 100 * 1024 },
    ]);
    expect(d.summary).toMatchObject({
      dataBlocks: 3,
      zeroBlocks: 1,
      dataBytes: 2 * B + 100 * 1024,
      localBlocks: 4,
      identical: false,
      virtualSize: local.length,
      resultSha256: sha256(local),
    });
    expect(d.header).toMatchObject({ baseSha256: sha256(base), baseCapacity: base.length });
    expect(d.trailer.resultSha256).toBe(sha256(local));
    const out = join(dir, 'mixed-rebuilt.raw');
    await rebuildFromDelta({ base: d.basePath, delta: d.deltaPath, out, to: 'raw' });
    expect(sha256(await readFile(out))).toBe(sha256(local));
  });

  it('writes an empty delta for identical content, and coalesces runs of changed blocks', async () => {
    // Prepare
    const base = Buffer.alloc(40 * B);
    randomBytes(40 * B).copy(base);
    const copy = Buffer.from(base);
    const rewritten = Buffer.from(base);
    randomBytes(20 * B).copy(rewritten, 3 * B); // blocks 3..22: longer than one 8 MiB extent

    // Act
    const same = await deltaOf('same', base, copy);
    const runs = await deltaOf('runs', base, rewritten);

    // Assess
    expect(same.extents).toEqual([]);
    expect(same.summary).toMatchObject({ identical: true, dataBlocks: 0, zeroBlocks: 0 });
    expect(runs.extents).toEqual([
      { kind: 'data', offset: 3 * B, length: 16 * B },
      { kind: 'data', offset: 19 * B, length: 4 * B },
    ]);
  });

  it('takes a grown disk (new blocks past the base as data) but refuses a smaller one', async () => {
    // Prepare
    const base = Buffer.alloc(4 * B);
    randomBytes(B).copy(base);
    const grown = Buffer.alloc(6 * B);
    base.copy(grown);
    randomBytes(B).copy(grown, 5 * B);
    const shrunk = base.subarray(0, 3 * B);

    // Act
    const d = await deltaOf('grown', base, grown);
    const refused = deltaOf('shrunk', base, shrunk);

    // Assess
    expect(d.extents).toEqual([{ kind: 'data', offset: 5 * B, length: B }]);
    expect(d.summary.virtualSize).toBe(6 * B);
    await expect(refused).rejects.toMatchObject({ code: 'BG_DELTA_WRONG_BASE' });
  });

  it('refuses a manifest of another block size or capacity than the base', async () => {
    // Prepare
    const disk = Buffer.alloc(2 * B, 1);
    const path = join(dir, 'odd.raw');
    await writeFile(path, disk);
    const opened = await openBaseImage(path);
    const manifest = await manifestOf(path);

    // Act
    const otherBlocks = await writeBlockDelta(
      opened.disk,
      { manifest: { ...manifest, blockBytes: 64 * 1024 }, sha256: sha256(disk), capacity: disk.length },
      join(dir, 'odd1.bgdelta'),
    ).catch((e: unknown) => e);
    const otherCapacity = await writeBlockDelta(
      opened.disk,
      { manifest, sha256: sha256(disk), capacity: disk.length - B },
      join(dir, 'odd2.bgdelta'),
    ).catch((e: unknown) => e);

    // Assess
    expect(otherBlocks).toMatchObject({ code: 'BG_DELTA_WRONG_BASE' });
    expect(otherCapacity).toMatchObject({ code: 'BG_DELTA_WRONG_BASE' });
    await opened.close();
  });
});
