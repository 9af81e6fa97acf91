/**
 * The EBS direct APIs that write: StartSnapshot (a new pending snapshot, or a child of a completed
 * one), PutSnapshotBlock (one 512 KiB block, checksum verified, journalled) and CompleteSnapshot
 * (sealing, completed or error once `timing.snapshotMs` has passed).
 */
import { rmSync } from 'node:fs';

import type { SimContext } from './context';
import {
  appendJournal,
  EBS_BLOCK_SIZE,
  linearAggregates,
  maskRanges,
  pieceMask,
  saveBlockMap,
  sealRanges,
  sha256Base64,
  snapshotBlockMap,
} from './ebs-blocks';
import {
  drain,
  EbsError,
  epochSeconds,
  header,
  invalid,
  notFound,
  param,
  readBlockBody,
  readJson,
  type Route,
} from './ebs-http';
import {
  checkSnapshotId,
  findSnapshot,
  forgetPending,
  parseIndex,
  pendingOf,
  snapshotState,
} from './ebs-snapshots';
import { newId } from './ids';
import type { SnapshotRec } from './model';
import type { Tag } from './protocol';

const GiB = 1024 ** 3;
const MAX_VOLUME_GIB = 65_536;

function tagsJson(tags: Tag[]): { Key: string; Value: string }[] | undefined {
  return tags.length ? tags.map((t) => ({ Key: t.key, Value: t.value })) : undefined;
}

function parseTags(raw: unknown): Tag[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw invalid('INVALID_TAG', 'Tags must be a list.');
  if (raw.length > 50) throw invalid('INVALID_TAG', 'A snapshot can have at most 50 tags.');
  const keys = new Set<string>();
  return raw.map((t: unknown) => {
    const { Key, Value } = (t ?? {}) as { Key?: unknown; Value?: unknown };
    if (typeof Key !== 'string' || Key.length < 1 || Key.length > 127) {
      throw invalid('INVALID_TAG', 'Tag keys must be 1 to 127 characters long.');
    }
    if (Value !== undefined && (typeof Value !== 'string' || Value.length > 255)) {
      throw invalid('INVALID_TAG', 'Tag values must be at most 255 characters long.');
    }
    if (Key.toLowerCase().startsWith('aws:')) {
      throw invalid('INVALID_TAG', "Tag keys starting with 'aws:' are reserved for internal use.");
    }
    if (keys.has(Key)) throw invalid('INVALID_TAG', `The tag key '${Key}' is given twice.`);
    keys.add(Key);
    return { key: Key, value: (Value as string | undefined) ?? '' };
  });
}

function startSnapshotJson(ctx: SimContext, s: SnapshotRec): Record<string, unknown> {
  return {
    SnapshotId: s.id,
    OwnerId: ctx.accountId,
    Status: snapshotState(s),
    StartTime: epochSeconds(s.createdAt),
    VolumeSize: s.volumeSize,
    BlockSize: EBS_BLOCK_SIZE,
    Description: s.description || undefined,
    Tags: tagsJson(s.tags),
    ParentSnapshotId: s.parentSnapshotId,
    SseType: 'none',
  };
}

export const START_SNAPSHOT: Route = {
  action: 'StartSnapshot',
  async run(ctx, req) {
    const body = await readJson(req);
    const { VolumeSize, ParentSnapshotId, Description, ClientToken, Encrypted, KmsKeyArn, Timeout } = body;
    if (
      typeof VolumeSize !== 'number' ||
      !Number.isInteger(VolumeSize) ||
      VolumeSize < 1 ||
      VolumeSize > MAX_VOLUME_GIB
    ) {
      throw invalid(
        'INVALID_VOLUME_SIZE',
        `VolumeSize must be a whole number of GiB from 1 to ${MAX_VOLUME_GIB}.`,
      );
    }
    if (
      Timeout !== undefined &&
      (typeof Timeout !== 'number' || !Number.isInteger(Timeout) || Timeout < 10 || Timeout > 4320)
    ) {
      throw invalid('INVALID_PARAMETER_VALUE', 'Timeout must be a whole number of minutes from 10 to 4320.');
    }
    if (Description !== undefined && (typeof Description !== 'string' || Description.length > 255)) {
      throw invalid('INVALID_PARAMETER_VALUE', 'Description must be a string of at most 255 characters.');
    }
    if (ClientToken !== undefined && (typeof ClientToken !== 'string' || ClientToken.length > 64)) {
      throw invalid('INVALID_PARAMETER_VALUE', 'ClientToken must be a string of at most 64 characters.');
    }
    if (ParentSnapshotId !== undefined && typeof ParentSnapshotId !== 'string') {
      throw invalid('INVALID_PARAMETER_VALUE', 'ParentSnapshotId must be a string.');
    }
    if (ParentSnapshotId !== undefined && Encrypted !== undefined) {
      throw invalid('INVALID_PARAMETER_VALUE', 'ParentSnapshotId and Encrypted cannot be given together.');
    }
    if (Encrypted === true || KmsKeyArn !== undefined) {
      // the simulator has no KMS: refuse rather than pretend the data is encrypted
      throw invalid(
        'INVALID_PARAMETER_VALUE',
        'Encrypted snapshots are not supported by the simulator (no KMS).',
      );
    }
    const tags = parseTags(body['Tags']);
    const fingerprint = JSON.stringify([
      VolumeSize,
      ParentSnapshotId,
      Description,
      Timeout,
      Encrypted,
      body['Tags'],
    ]);
    if (ClientToken !== undefined) {
      const prior = ctx.state.ebsTokens[ClientToken];
      const snap = prior && ctx.state.snapshots[prior.snapshotId];
      if (prior && snap) {
        if (prior.fingerprint !== fingerprint) {
          throw new EbsError(
            'ConflictException',
            409,
            'The request uses the same client token as a previous, but non-identical request.',
          );
        }
        return { status: 201, json: startSnapshotJson(ctx, snap) };
      }
    }
    let parent: SnapshotRec | undefined;
    if (ParentSnapshotId !== undefined) {
      checkSnapshotId(ParentSnapshotId, 'parent snapshot ID');
      parent = ctx.state.snapshots[ParentSnapshotId];
      if (!parent) throw notFound(ParentSnapshotId);
      if (snapshotState(parent) !== 'completed') {
        throw invalid('INVALID_PARAMETER_VALUE', `The parent snapshot '${parent.id}' is not completed.`);
      }
      if (VolumeSize < parent.volumeSize) {
        throw invalid(
          'INVALID_VOLUME_SIZE',
          `VolumeSize ${VolumeSize} GiB is smaller than the parent snapshot's ${parent.volumeSize} GiB.`,
        );
      }
    }
    const id = newId('snap');
    const now = ctx.now();
    const capacity = VolumeSize * GiB;
    if (parent) {
      // the child starts as a sparse copy of its parent and inherits its block map
      await ctx.disks.copy(parent.id, id);
      await ctx.disks.grow(id, capacity);
      saveBlockMap(ctx.disks, id, snapshotBlockMap(ctx.disks, parent));
    } else {
      await ctx.disks.createEmpty(id, capacity);
    }
    const rec: SnapshotRec = {
      id,
      createdAt: now,
      volumeSize: VolumeSize,
      capacity,
      description: (Description as string | undefined) ?? '',
      tags,
      state: 'pending',
      origin: 'ebs-direct',
      parentSnapshotId: parent?.id,
      lineage: parent ? (parent.lineage ?? parent.id) : id,
      ebs: {
        timeoutMin: (Timeout as number | undefined) ?? 60,
        lastActivityAt: now,
        clientToken: ClientToken,
      },
    };
    ctx.state.snapshots[id] = rec;
    if (ClientToken !== undefined) ctx.state.ebsTokens[ClientToken] = { snapshotId: id, fingerprint };
    ctx.save();
    return { status: 201, json: startSnapshotJson(ctx, rec) };
  },
};

function requirePending(s: SnapshotRec): void {
  if (snapshotState(s) !== 'pending' || s.ebs === undefined || s.ebs.completeRequestedAt !== undefined) {
    const what =
      s.ebs?.completeRequestedAt !== undefined && snapshotState(s) === 'pending'
        ? 'being completed'
        : snapshotState(s);
    throw invalid(
      'INVALID_PARAMETER_VALUE',
      `The snapshot '${s.id}' is ${what}; blocks can only be written to a pending snapshot.`,
    );
  }
}

export const PUT_SNAPSHOT_BLOCK: Route = {
  action: 'PutSnapshotBlock',
  async run(ctx, req) {
    // the body is read first (bounded to one block) so a refused request still gets its answer
    const { data, total, cut } = await readBlockBody(req);
    const s = findSnapshot(ctx, param(req, 0));
    requirePending(s);
    const index = parseIndex(param(req, 1), s);
    const dataLength = header(req, 'x-amz-Data-Length');
    if (dataLength === undefined)
      throw invalid('INVALID_PARAMETER_VALUE', 'The x-amz-Data-Length header is required.');
    if (dataLength !== String(EBS_BLOCK_SIZE)) {
      throw invalid(
        'INVALID_PARAMETER_VALUE',
        `DataLength must be ${EBS_BLOCK_SIZE} bytes, not ${dataLength}.`,
      );
    }
    const algorithm = header(req, 'x-amz-Checksum-Algorithm');
    if (algorithm !== 'SHA256') {
      throw invalid(
        'INVALID_PARAMETER_VALUE',
        `ChecksumAlgorithm must be SHA256, not ${algorithm ?? '(none)'}.`,
      );
    }
    const checksum = header(req, 'x-amz-Checksum');
    if (checksum === undefined || !/^[A-Za-z0-9+/=]{1,64}$/.test(checksum)) {
      throw invalid(
        'INVALID_PARAMETER_VALUE',
        'The x-amz-Checksum header must be a Base64 SHA-256 checksum.',
      );
    }
    const progress = header(req, 'x-amz-Progress');
    if (progress !== undefined && (!/^\d+$/.test(progress) || Number(progress) > 100)) {
      throw invalid('INVALID_PARAMETER_VALUE', 'Progress must be a percentage from 0 to 100.');
    }
    if (cut || total !== EBS_BLOCK_SIZE) {
      throw invalid(
        'INVALID_PARAMETER_VALUE',
        cut || total < EBS_BLOCK_SIZE
          ? `Failed to read block data: the body ended after ${total} of ${EBS_BLOCK_SIZE} bytes.`
          : `The block data is longer than DataLength (${EBS_BLOCK_SIZE} bytes).`,
      );
    }
    const actual = sha256Base64(data);
    if (actual !== checksum) {
      throw invalid(
        'INVALID_PARAMETER_VALUE',
        'The checksum of the block data does not match the x-amz-Checksum header.',
      );
    }
    const pending = await pendingOf(ctx, s.id);
    if (pending.closing) {
      throw invalid(
        'INVALID_PARAMETER_VALUE',
        `The snapshot '${s.id}' is being completed; blocks can only be written to a pending snapshot.`,
      );
    }
    if (pending.inflight.has(index)) {
      throw invalid(
        'CONFLICTING_BLOCK_UPDATE',
        `Block ${index} of snapshot '${s.id}' is being written by another request.`,
      );
    }
    pending.inflight.add(index);
    const write = (async () => {
      const mask = pieceMask(data);
      // only the non-zero 64 KiB pieces reach the file; the seal records the rest as holes
      for (const [start, end] of maskRanges(index, mask)) {
        const off = start - index * EBS_BLOCK_SIZE;
        await ctx.disks.writeBytes(s.id, start, data.subarray(off, off + (end - start)));
      }
      const entry = { mask, checksum: actual };
      await appendJournal(ctx.disks, s.id, index, entry);
      pending.writes.set(index, entry);
    })();
    pending.active.add(write);
    try {
      await write;
    } finally {
      pending.active.delete(write);
      pending.inflight.delete(index);
    }
    // the snapshot may have been deleted while the block was written
    if (ctx.state.snapshots[s.id] !== s) throw notFound(s.id);
    (s.ebs as NonNullable<SnapshotRec['ebs']>).lastActivityAt = ctx.now();
    ctx.save();
    return {
      status: 201,
      headers: { 'x-amz-Checksum': actual, 'x-amz-Checksum-Algorithm': 'SHA256' },
      json: {},
    };
  },
};

export const COMPLETE_SNAPSHOT: Route = {
  action: 'CompleteSnapshot',
  async run(ctx, req) {
    await drain(req);
    const s = findSnapshot(ctx, param(req, 0));
    const countRaw = header(req, 'x-amz-ChangedBlocksCount');
    if (countRaw === undefined || !/^\d+$/.test(countRaw)) {
      throw invalid(
        'INVALID_PARAMETER_VALUE',
        'The x-amz-ChangedBlocksCount header must be a number of blocks.',
      );
    }
    const checksum = header(req, 'x-amz-Checksum');
    const algorithm = header(req, 'x-amz-Checksum-Algorithm');
    const aggregation = header(req, 'x-amz-Checksum-Aggregation-Method');
    if (checksum !== undefined) {
      if (!/^[A-Za-z0-9+/=]{1,64}$/.test(checksum)) {
        throw invalid(
          'INVALID_PARAMETER_VALUE',
          'The x-amz-Checksum header must be a Base64 SHA-256 checksum.',
        );
      }
      if (algorithm !== 'SHA256')
        throw invalid('INVALID_PARAMETER_VALUE', 'ChecksumAlgorithm must be SHA256.');
      if (aggregation !== 'LINEAR')
        throw invalid('INVALID_PARAMETER_VALUE', 'ChecksumAggregationMethod must be LINEAR.');
    }
    if (s.ebs === undefined) {
      throw invalid('INVALID_PARAMETER_VALUE', `The snapshot '${s.id}' was not started with StartSnapshot.`);
    }
    if (snapshotState(s) === 'error') {
      throw invalid('INVALID_PARAMETER_VALUE', `The snapshot '${s.id}' is in the error state.`);
    }
    // a retried CompleteSnapshot answers with where the first one got to
    if (s.ebs.completeRequestedAt !== undefined) return { status: 202, json: { Status: snapshotState(s) } };

    const pending = await pendingOf(ctx, s.id);
    if (pending.closing) return { status: 202, json: { Status: 'pending' } };
    // blocks already being written are part of the snapshot; later ones are refused
    pending.closing = true;
    await Promise.allSettled([...pending.active]);
    const writes = pending.writes;
    const now = ctx.now();
    let failure: string | undefined;
    if (Number(countRaw) !== writes.size) {
      failure = `ChangedBlocksCount ${countRaw} does not match the ${writes.size} blocks written to the snapshot.`;
    } else if (checksum !== undefined && !linearAggregates(writes).includes(checksum)) {
      failure = 'The aggregated checksum does not match the checksums of the blocks written to the snapshot.';
    }
    if (failure === undefined) {
      // seal: the parent's map and ranges with this snapshot's own blocks laid over them
      const map = snapshotBlockMap(ctx.disks, s);
      for (const index of writes.keys()) map.blocks.set(index, s.id);
      saveBlockMap(ctx.disks, s.id, map);
      ctx.disks.writeMeta(s.id, s.capacity, sealRanges(ctx.disks.meta(s.id).ranges, writes));
    }
    s.ebs.completeRequestedAt = now;
    s.sealAt = now + ctx.timing.snapshotMs;
    s.sealOutcome = failure === undefined ? 'completed' : 'error';
    s.stateMessage = failure;
    ctx.save();
    // the journal goes only once the state says the snapshot is sealing, so a crash keeps either
    if (failure === undefined) {
      rmSync(ctx.disks.sidecarPath(s.id, 'journal'), { force: true });
    } else {
      // AWS fails the snapshot asynchronously; it keeps no data
      ctx.disks.remove(s.id);
    }
    forgetPending(ctx, s.id);
    return { status: 202, json: { Status: 'pending' } };
  },
};
