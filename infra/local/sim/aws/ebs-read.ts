/**
 * The EBS direct APIs that read a completed snapshot: ListSnapshotBlocks, ListChangedBlocks (two
 * snapshots of one lineage) and GetSnapshotBlock, with their paging and block tokens.
 */
import {
  BLOCK_TOKEN_TTL_MS,
  blockToken,
  changedIndices,
  checkBlockToken,
  EBS_BLOCK_SIZE,
  PAGE_TOKEN_TTL_MS,
  pageToken,
  readPageToken,
  sha256Base64,
  snapshotBlockMap,
  sortedIndices,
} from './ebs-blocks';
import { drain, epochSeconds, intQuery, invalid, param, type Route } from './ebs-http';
import { findCompleted, parseIndex } from './ebs-snapshots';

function pageLimit(url: URL): number {
  const max = intQuery(url, 'maxResults');
  if (max === undefined) return 10_000;
  if (max > 10_000) throw invalid('INVALID_PARAMETER_VALUE', 'MaxResults must be at most 10000.');
  // the FAQ: a MaxResults under 100 still returns at least 100 results
  return Math.max(100, max);
}

function firstIndex(url: URL, scope: string, now: number): number {
  const token = url.searchParams.get('pageToken');
  if (token !== null) {
    const next = readPageToken(token, scope, now);
    if (next === undefined)
      throw invalid('INVALID_PAGE_TOKEN', 'The page token is not valid or has expired.');
    return next;
  }
  return intQuery(url, 'startingBlockIndex') ?? 0;
}

function page<T>(
  indices: number[],
  start: number,
  limit: number,
  scope: string,
  now: number,
  item: (i: number) => T,
) {
  const from = indices.findIndex((i) => i >= start);
  const slice = from < 0 ? [] : indices.slice(from, from + limit);
  const more = from >= 0 && from + limit < indices.length;
  return {
    items: slice.map(item),
    NextToken: more
      ? pageToken({ scope, next: indices[from + limit] as number, expiresAt: now + PAGE_TOKEN_TTL_MS })
      : undefined,
  };
}

export const LIST_SNAPSHOT_BLOCKS: Route = {
  action: 'ListSnapshotBlocks',
  async run(ctx, req, url) {
    await drain(req);
    const s = findCompleted(ctx, param(req, 0));
    const now = ctx.now();
    const limit = pageLimit(url);
    const start = firstIndex(url, s.id, now);
    const expires = now + BLOCK_TOKEN_TTL_MS;
    const { items, NextToken } = page(
      sortedIndices(snapshotBlockMap(ctx.disks, s)),
      start,
      limit,
      s.id,
      now,
      (i) => ({
        BlockIndex: i,
        BlockToken: blockToken(s.id, i, expires),
      }),
    );
    return {
      status: 200,
      json: {
        Blocks: items,
        ExpiryTime: epochSeconds(expires),
        VolumeSize: s.volumeSize,
        BlockSize: EBS_BLOCK_SIZE,
        NextToken,
      },
    };
  },
};

export const LIST_CHANGED_BLOCKS: Route = {
  action: 'ListChangedBlocks',
  async run(ctx, req, url) {
    await drain(req);
    const second = findCompleted(ctx, param(req, 0));
    const firstId = url.searchParams.get('firstSnapshotId');
    if (firstId === null) {
      // the API reference: FirstSnapshotId must be given with SecondSnapshotId, otherwise an error occurs
      throw invalid('INVALID_PARAMETER_VALUE', 'FirstSnapshotId must be specified with SecondSnapshotId.');
    }
    const first = findCompleted(ctx, firstId);
    const a = snapshotBlockMap(ctx.disks, first);
    const b = snapshotBlockMap(ctx.disks, second);
    if (a.lineage !== b.lineage) {
      throw invalid(
        'UNRELATED_SNAPSHOTS',
        `The snapshots '${first.id}' and '${second.id}' are not of the same volume/snapshot lineage.`,
      );
    }
    const now = ctx.now();
    const scope = `${first.id}..${second.id}`;
    const limit = pageLimit(url);
    const start = firstIndex(url, scope, now);
    const expires = now + BLOCK_TOKEN_TTL_MS;
    const { items, NextToken } = page(changedIndices(a, b), start, limit, scope, now, (i) => ({
      BlockIndex: i,
      FirstBlockToken: a.blocks.has(i) ? blockToken(first.id, i, expires) : undefined,
      SecondBlockToken: b.blocks.has(i) ? blockToken(second.id, i, expires) : undefined,
    }));
    return {
      status: 200,
      json: {
        ChangedBlocks: items,
        ExpiryTime: epochSeconds(expires),
        VolumeSize: second.volumeSize,
        BlockSize: EBS_BLOCK_SIZE,
        NextToken,
      },
    };
  },
};

export const GET_SNAPSHOT_BLOCK: Route = {
  action: 'GetSnapshotBlock',
  async run(ctx, req, url) {
    await drain(req);
    const s = findCompleted(ctx, param(req, 0));
    const index = parseIndex(param(req, 1), s);
    const token = url.searchParams.get('blockToken');
    if (token === null || !checkBlockToken(token, s.id, index, ctx.now())) {
      throw invalid(
        'INVALID_BLOCK_TOKEN',
        `The block token is not valid for block ${index} of snapshot '${s.id}'.`,
      );
    }
    if (!snapshotBlockMap(ctx.disks, s).blocks.has(index)) {
      throw invalid('INVALID_BLOCK', `Block ${index} of snapshot '${s.id}' was never written.`);
    }
    const data = await ctx.disks.readAt(s.id, index * EBS_BLOCK_SIZE, EBS_BLOCK_SIZE);
    return {
      status: 200,
      headers: {
        'x-amz-Data-Length': String(EBS_BLOCK_SIZE),
        'x-amz-Checksum': sha256Base64(data),
        'x-amz-Checksum-Algorithm': 'SHA256',
      },
      body: data,
    };
  },
};
