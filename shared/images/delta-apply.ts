/**
 * Applying a delta to its base: the base checked against the header, then the resulting disk as a
 * DiskStream whose SHA-256 is checked against the trailer when it ends.
 */
import { createHash } from 'node:crypto';
import { ImageError } from './errors';
import { normalizeExtents, splitZeroBlocks, zeros, type DiskExtent, type DiskStream } from './extents';
import type { DeltaHeader } from './delta-format';
import type { DeltaReader } from './delta-reader';
import { OverlayHasher } from './overlay-hasher';
import type { RandomAccessDisk } from './random-access-disk';

const MiB = 1024 * 1024;

/** Fails with BG_DELTA_WRONG_BASE when `base` is not the disk the delta was taken against. */
export async function checkDeltaBase(
  header: DeltaHeader,
  base: RandomAccessDisk,
  opts: { name?: string; hash?: boolean } = {},
): Promise<void> {
  const name = opts.name ?? 'base';
  if (header.baseCapacity !== undefined && header.baseCapacity !== base.capacity) {
    throw new ImageError(
      'BG_DELTA_WRONG_BASE',
      `${name} is a ${base.capacity}-byte disk but the delta was taken against a ${header.baseCapacity}-byte disk; pass the image the VM was offloaded from`,
    );
  }
  if (header.baseSha256 !== undefined && (opts.hash ?? true)) {
    const h = new OverlayHasher(base, base.capacity);
    const sha = await h.digest();
    if (sha !== header.baseSha256) {
      throw new ImageError(
        'BG_DELTA_WRONG_BASE',
        `${name} has content SHA-256 ${sha} but the delta was taken against ${header.baseSha256}; pass the image the VM was offloaded from`,
      );
    }
  }
}

export interface ApplySummary {
  /** SHA-256 (hex) of the resulting disk, equal to the delta's `resultSha256`. */
  sha256: string;
  extents: number;
  /** Bytes taken from the delta's data extents. */
  bytesApplied: number;
  /** Bytes set to zero by zero extents. */
  zeroBytes: number;
}

export interface AppliedDelta extends DiskStream {
  /** Set once the extents have been read to their end and the result's SHA-256 matched. */
  summary(): ApplySummary | undefined;
}

/**
 * The resulting disk as a stream: the base's bytes where the delta has no extent (mapped-zero
 * ranges are not read; past the base's end, zeros), the delta's data where it has one (zero-detected
 * in 64 KiB blocks), zero extents as zero extents. Memory: one delta piece or one base chunk. A base
 * of the wrong size fails at once (BG_DELTA_WRONG_BASE; its hash is `checkDeltaBase`'s job); a bad
 * extent fails before its last piece, a wrong result (BG_DELTA_RESULT_MISMATCH) at the end — errors
 * surface from the iteration, so a writer must not keep what it wrote (see `writeFileAtomically`).
 */
export function applyDelta(
  base: RandomAccessDisk,
  delta: DeltaReader,
  opts: { chunkSize?: number; name?: string } = {},
): AppliedDelta {
  const capacity = delta.header.virtualSize;
  const chunkSize = opts.chunkSize ?? 4 * MiB;
  if (delta.header.baseCapacity !== undefined && delta.header.baseCapacity !== base.capacity) {
    throw new ImageError(
      'BG_DELTA_WRONG_BASE',
      `${opts.name ?? 'base'} is a ${base.capacity}-byte disk but the delta was taken against a ${delta.header.baseCapacity}-byte disk; pass the image the VM was offloaded from`,
    );
  }
  let summary: ApplySummary | undefined;

  async function* fromBase(from: number, to: number): AsyncGenerator<DiskExtent> {
    const inBase = Math.min(to, base.capacity);
    if (from < inBase) {
      for await (const r of base.map(from, inBase - from)) {
        if (r.zero) {
          yield { kind: 'zero', offset: r.offset, length: r.length };
          continue;
        }
        for (let off = r.offset; off < r.offset + r.length; off += chunkSize) {
          yield* splitZeroBlocks(await base.read(off, Math.min(chunkSize, r.offset + r.length - off)), off);
        }
      }
    }
    const zeroFrom = Math.max(from, inBase);
    if (zeroFrom < to) yield { kind: 'zero', offset: zeroFrom, length: to - zeroFrom };
  }

  async function* merged(): AsyncGenerator<DiskExtent> {
    let pos = 0;
    for await (const p of delta.pieces) {
      if (p.offset > pos) yield* fromBase(pos, p.offset);
      if (p.kind === 'zero') {
        yield { kind: 'zero', offset: p.offset, length: p.length };
        pos = p.offset + p.length;
      } else {
        yield* splitZeroBlocks(p.data, p.offset);
        pos = p.offset + p.data.length;
      }
    }
    if (pos < capacity) yield* fromBase(pos, capacity);
  }

  async function* verified(): AsyncGenerator<DiskExtent> {
    const h = createHash('sha256');
    for await (const e of normalizeExtents(merged(), capacity, 'delta applied to its base')) {
      if (e.kind === 'data') h.update(e.data);
      else for (let left = e.length; left > 0; left -= MiB) h.update(zeros(Math.min(left, MiB)));
      yield e;
    }
    const t = delta.trailer()!;
    const sha = h.digest('hex');
    if (sha !== t.resultSha256) {
      throw new ImageError(
        'BG_DELTA_RESULT_MISMATCH',
        `the disk rebuilt from ${opts.name ?? 'the base'} and the delta has SHA-256 ${sha} but the delta expects ${t.resultSha256}; the base differs from the one the delta was taken against (in bytes the delta did not change), or the delta is wrong — nothing was kept`,
      );
    }
    summary = { sha256: sha, extents: t.extents, bytesApplied: t.dataBytes, zeroBytes: t.zeroBytes };
  }

  return { capacity, extents: verified(), summary: () => summary };
}
