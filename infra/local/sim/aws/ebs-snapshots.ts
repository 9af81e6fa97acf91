/**
 * EBS snapshots as the direct APIs see them: their state, finding one by id (reads need it
 * completed), block indices inside its volume, and the bookkeeping of a pending snapshot (acknowledged
 * writes journalled on disk and mirrored in memory; Timeout and sealing advanced by time).
 */
import type { SimContext } from './context';
import { EBS_BLOCK_SIZE, readJournal, type JournalEntry } from './ebs-blocks';
import { EbsError, invalid, notFound } from './ebs-http';
import type { SimState, SnapshotRec, SnapshotState } from './model';

export function snapshotState(s: SnapshotRec): SnapshotState {
  return s.state ?? 'completed';
}

// ---------------------------------------------------------------------------------------------
// Pending snapshots: the acknowledged writes are journalled on disk and mirrored here.

export interface Pending {
  writes: Map<number, JournalEntry>;
  /** Block indices with a PutSnapshotBlock under way, and the writes themselves. */
  inflight: Set<number>;
  active: Set<Promise<unknown>>;
  /** CompleteSnapshot has begun: no new block is taken, the ones under way are waited for. */
  closing: boolean;
}

const pendingByState = new WeakMap<SimState, Map<string, Promise<Pending>>>();

export function pendingOf(ctx: SimContext, id: string): Promise<Pending> {
  let all = pendingByState.get(ctx.state);
  if (!all) {
    all = new Map();
    pendingByState.set(ctx.state, all);
  }
  let p = all.get(id);
  if (!p) {
    // after a restart the journal is what was acknowledged
    p = readJournal(ctx.disks, id).then((writes) => ({
      writes,
      inflight: new Set<number>(),
      active: new Set<Promise<unknown>>(),
      closing: false,
    }));
    all.set(id, p);
  }
  return p;
}

/** Drops the in-memory state of a snapshot that was sealed, failed or deleted. */
export function forgetPending(ctx: SimContext, id: string): void {
  pendingByState.get(ctx.state)?.delete(id);
}

/** Turns sealing snapshots completed (or error) when due, and pending ones past their Timeout to error. */
export function tickSnapshots(ctx: SimContext): boolean {
  const now = ctx.now();
  let changed = false;
  for (const s of Object.values(ctx.state.snapshots)) {
    if (s.state !== 'pending') continue;
    if (s.sealAt !== undefined) {
      if (now < s.sealAt) continue;
      s.state = s.sealOutcome ?? 'completed';
      s.sealAt = undefined;
      s.sealOutcome = undefined;
      changed = true;
    } else if (s.ebs && now >= s.ebs.lastActivityAt + s.ebs.timeoutMin * ctx.timing.ebsMinuteMs) {
      s.state = 'error';
      s.stateMessage = `The snapshot timed out: no PutSnapshotBlock or CompleteSnapshot within ${s.ebs.timeoutMin} minutes.`;
      // an errored snapshot keeps its record (DescribeSnapshots shows it) but none of its data
      ctx.disks.remove(s.id);
      forgetPending(ctx, s.id);
      changed = true;
    }
  }
  return changed;
}

export function checkSnapshotId(id: string, what = 'snapshot ID'): void {
  if (!/^snap-[0-9a-f]+$/.test(id) || id.length > 64) {
    throw invalid('INVALID_SNAPSHOT_ID', `The ${what} '${id}' is not valid.`);
  }
}

export function findSnapshot(ctx: SimContext, id: string): SnapshotRec {
  checkSnapshotId(id);
  const s = ctx.state.snapshots[id];
  if (!s) throw notFound(id);
  return s;
}

/** Reads need a completed snapshot (EBS direct APIs FAQ: a pending snapshot cannot be accessed). */
export function findCompleted(ctx: SimContext, id: string): SnapshotRec {
  const s = findSnapshot(ctx, id);
  if (snapshotState(s) !== 'completed') {
    throw new EbsError(
      'ResourceNotFoundException',
      404,
      `The snapshot '${id}' is ${snapshotState(s)}; only completed snapshots can be read.`,
      'SNAPSHOT_NOT_FOUND',
    );
  }
  return s;
}

function blockCount(s: SnapshotRec): number {
  return Math.ceil(s.capacity / EBS_BLOCK_SIZE);
}

export function parseIndex(raw: string, s: SnapshotRec): number {
  if (!/^\d+$/.test(raw)) throw invalid('INVALID_PARAMETER_VALUE', `The block index '${raw}' is not valid.`);
  const index = Number(raw);
  if (index >= blockCount(s)) {
    throw invalid(
      'INVALID_BLOCK',
      `The block index ${index} is outside the volume of snapshot '${s.id}' (${s.volumeSize} GiB, blocks 0 to ${blockCount(s) - 1}).`,
    );
  }
  return index;
}
