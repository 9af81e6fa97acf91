/**
 * Block-level bookkeeping for EBS snapshots and volumes: which 512 KiB blocks were written, by whom
 * (the lineage), the journal of a pending EBS direct snapshot, and the opaque tokens of the list and
 * get calls.
 *
 * Lineage is modelled the way EBS keeps it: every written block of a snapshot carries the id of the
 * snapshot (or volume write) that wrote it, inherited unchanged by children. Two snapshots of one
 * lineage differ exactly at the blocks whose writers differ, i.e. the blocks written on either side
 * since their common ancestor. That is what ListChangedBlocks lists; a block rewritten with the same
 * bytes still counts as changed, as on AWS.
 *
 * A block map holds one entry per written block (not per block of the volume), so memory follows the
 * data written, never the volume size. Maps live next to the disk file as `<id>.blocks.json`; a
 * snapshot without one (VM Import) has its map derived from its data ranges.
 */
import { appendFile, readFile } from 'node:fs/promises';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

import { dataRanges, overlayRanges, type DiskStore } from './disks';
import type { SnapshotRec } from './model';

export const EBS_BLOCK_SIZE = 524_288;
/** Writer mark of a volume block written since the volume's last snapshot. */
export const UNSNAPSHOTTED = '*';
/** Block tokens stay valid seven days, page tokens 60 minutes (EBS direct APIs FAQ). */
export const BLOCK_TOKEN_TTL_MS = 7 * 24 * 3600 * 1000;
export const PAGE_TOKEN_TTL_MS = 60 * 60 * 1000;

export interface BlockMap {
  lineage: string;
  /** Block index → id of the snapshot (or UNSNAPSHOTTED volume write) that wrote it. */
  blocks: Map<number, string>;
}

interface BlockMapFile {
  lineage: string;
  writers: string[];
  /** [block index, index into writers], ascending by block index. */
  blocks: [number, number][];
}

export function sortedIndices(map: BlockMap): number[] {
  return [...map.blocks.keys()].sort((a, b) => a - b);
}

/** The blocks that hold data in a disk, from its ranges (for disks written without a block map). */
function blocksFromRanges(disks: DiskStore, diskId: string, writer: string): Map<number, string> {
  const blocks = new Map<number, string>();
  for (const [s, e] of disks.meta(diskId).ranges) {
    for (let b = Math.floor(s / EBS_BLOCK_SIZE); b * EBS_BLOCK_SIZE < e; b++) blocks.set(b, writer);
  }
  return blocks;
}

/** The block map of a disk; `fallback` says how to derive one when the disk has none yet. */
export function loadBlockMap(
  disks: DiskStore,
  diskId: string,
  fallback: { lineage: string; writer: string },
): BlockMap {
  const path = disks.sidecarPath(diskId, 'blocks.json');
  if (!existsSync(path)) {
    return { lineage: fallback.lineage, blocks: blocksFromRanges(disks, diskId, fallback.writer) };
  }
  const f = JSON.parse(readFileSync(path, 'utf8')) as BlockMapFile;
  const blocks = new Map<number, string>();
  for (const [index, w] of f.blocks) blocks.set(index, f.writers[w] as string);
  return { lineage: f.lineage, blocks };
}

/** A snapshot's block map; snapshots made before block maps existed (VM Import) wrote every data block. */
export function snapshotBlockMap(disks: DiskStore, snap: SnapshotRec): BlockMap {
  return loadBlockMap(disks, snap.id, { lineage: snap.lineage ?? snap.id, writer: snap.id });
}

export function saveBlockMap(disks: DiskStore, diskId: string, map: BlockMap): void {
  const writers: string[] = [];
  const writerIndex = new Map<string, number>();
  const blocks: [number, number][] = sortedIndices(map).map((index) => {
    const w = map.blocks.get(index) as string;
    let n = writerIndex.get(w);
    if (n === undefined) {
      n = writers.length;
      writers.push(w);
      writerIndex.set(w, n);
    }
    return [index, n];
  });
  const file: BlockMapFile = { lineage: map.lineage, writers, blocks };
  const path = disks.sidecarPath(diskId, 'blocks.json');
  writeFileSync(`${path}.tmp`, JSON.stringify(file));
  renameSync(`${path}.tmp`, path);
}

/** Block indices at which two maps of one lineage differ (written on either side since the common ancestor). */
export function changedIndices(first: BlockMap, second: BlockMap): number[] {
  const out = new Set<number>();
  for (const [index, w] of second.blocks) if (first.blocks.get(index) !== w) out.add(index);
  for (const [index, w] of first.blocks) if (second.blocks.get(index) !== w) out.add(index);
  return [...out].sort((a, b) => a - b);
}

/** Marks the blocks that [offset, offset + length) touches as written since the last snapshot. */
export function markWritten(map: BlockMap, offset: number, length: number): void {
  if (length <= 0) return;
  const last = Math.floor((offset + length - 1) / EBS_BLOCK_SIZE);
  for (let b = Math.floor(offset / EBS_BLOCK_SIZE); b <= last; b++) map.blocks.set(b, UNSNAPSHOTTED);
}

/** The map with every UNSNAPSHOTTED block attributed to `snapshotId`. */
export function attribute(map: BlockMap, snapshotId: string): BlockMap {
  const blocks = new Map<number, string>();
  for (const [index, w] of map.blocks) blocks.set(index, w === UNSNAPSHOTTED ? snapshotId : w);
  return { lineage: map.lineage, blocks };
}

// ---------------------------------------------------------------------------------------------
// The journal of a pending snapshot: one line per acknowledged PutSnapshotBlock.

export interface JournalEntry {
  /** Bit k set: the k-th 64 KiB piece of the block holds data (0 = an all-zero block). */
  mask: number;
  /** Base64 SHA-256 of the block. */
  checksum: string;
}

export const PIECE = 64 * 1024;

export function pieceMask(block: Buffer): number {
  let mask = 0;
  for (const [s, e] of dataRanges(0, block)) {
    for (let p = s; p < e; p += PIECE) mask |= 1 << (p / PIECE);
  }
  return mask;
}

export function maskRanges(index: number, mask: number): [number, number][] {
  const out: [number, number][] = [];
  const base = index * EBS_BLOCK_SIZE;
  for (let k = 0; k < EBS_BLOCK_SIZE / PIECE; k++) {
    if (!(mask & (1 << k))) continue;
    const s = base + k * PIECE;
    const last = out[out.length - 1];
    if (last && last[1] === s) last[1] = s + PIECE;
    else out.push([s, s + PIECE]);
  }
  return out;
}

export async function appendJournal(
  disks: DiskStore,
  snapshotId: string,
  index: number,
  e: JournalEntry,
): Promise<void> {
  await appendFile(disks.sidecarPath(snapshotId, 'journal'), `${index} ${e.mask} ${e.checksum}\n`);
}

/** The acknowledged writes of a pending snapshot (a later write of a block replaces an earlier one). */
export async function readJournal(disks: DiskStore, snapshotId: string): Promise<Map<number, JournalEntry>> {
  const out = new Map<number, JournalEntry>();
  let text: string;
  try {
    text = await readFile(disks.sidecarPath(snapshotId, 'journal'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw err;
  }
  for (const line of text.split('\n')) {
    const [index, mask, checksum] = line.split(' ');
    // a line cut short by a crash was never acknowledged
    if (index === undefined || mask === undefined || checksum === undefined || checksum.length !== 44)
      continue;
    out.set(Number(index), { mask: Number(mask), checksum });
  }
  return out;
}

/**
 * The data ranges of a sealed snapshot: its file started as a copy of the parent (so `base` are the
 * parent's ranges) and each written block replaces its 512 KiB window by its non-zero pieces.
 */
export function sealRanges(
  base: readonly [number, number][],
  writes: Map<number, JournalEntry>,
): [number, number][] {
  const windows = [...writes.keys()]
    .sort((a, b) => a - b)
    .map((index) => ({
      start: index * EBS_BLOCK_SIZE,
      end: (index + 1) * EBS_BLOCK_SIZE,
      add: maskRanges(index, (writes.get(index) as JournalEntry).mask),
    }));
  return overlayRanges(base, windows);
}

export function sha256Base64(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('base64');
}

/**
 * CompleteSnapshot's LINEAR aggregate: the block checksums in ascending block order, concatenated,
 * hashed with SHA-256. The reference says "concatenate them to form a single string", which reads
 * both as the Base64 strings and as the raw digests; both readings are accepted.
 */
export function linearAggregates(writes: Map<number, JournalEntry>): string[] {
  const sums = [...writes.keys()].sort((a, b) => a - b).map((i) => (writes.get(i) as JournalEntry).checksum);
  return [
    sha256Base64(sums.join('')),
    sha256Base64(Buffer.concat(sums.map((s) => Buffer.from(s, 'base64')))),
  ];
}

// ---------------------------------------------------------------------------------------------
// Tokens. Opaque to clients (Base64, as the API's pattern wants); they name what they were issued
// for, so a token of another snapshot or block, or an expired one, is refused.

export function blockToken(snapshotId: string, index: number, expiresAt: number): string {
  return Buffer.from(`b1:${snapshotId}:${index}:${expiresAt}`).toString('base64');
}

export function checkBlockToken(token: string, snapshotId: string, index: number, now: number): boolean {
  if (!/^[A-Za-z0-9+/=]{1,256}$/.test(token)) return false;
  const [tag, snap, idx, exp] = Buffer.from(token, 'base64').toString('utf8').split(':');
  return tag === 'b1' && snap === snapshotId && Number(idx) === index && Number(exp) > now;
}

export interface PageCursor {
  /** What the listing was for (`<second>` or `<first>..<second>`). */
  scope: string;
  next: number;
  expiresAt: number;
}

export function pageToken(c: PageCursor): string {
  return Buffer.from(`p1:${c.scope}:${c.next}:${c.expiresAt}`).toString('base64');
}

export function readPageToken(token: string, scope: string, now: number): number | undefined {
  if (!/^[A-Za-z0-9+/=]{1,256}$/.test(token)) return undefined;
  const [tag, sc, next, exp] = Buffer.from(token, 'base64').toString('utf8').split(':');
  if (tag !== 'p1' || sc !== scope || !(Number(exp) > now)) return undefined;
  const n = Number(next);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}
