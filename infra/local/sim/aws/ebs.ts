/**
 * The EBS direct APIs (REST-JSON, API version 2019-11-02) on the simulator's server, so
 * `@aws-sdk/client-ebs` works unchanged with `endpoint: sim.url`. AWS serves them from their own
 * host (`ebs.<region>.amazonaws.com`); here they are told apart from EC2 Query calls by their path
 * (`/snapshots…`), as the SDK's serializers build it:
 *
 *   POST /snapshots                                   StartSnapshot (201)
 *   PUT  /snapshots/{id}/blocks/{index}               PutSnapshotBlock (201)
 *   POST /snapshots/completion/{id}                   CompleteSnapshot (202)
 *   GET  /snapshots/{id}/blocks                       ListSnapshotBlocks
 *   GET  /snapshots/{second}/changedblocks            ListChangedBlocks
 *   GET  /snapshots/{id}/blocks/{index}?blockToken=   GetSnapshotBlock
 *
 * Errors are answered as AWS does for REST-JSON services: the HTTP status of the error shape, an
 * `x-amzn-ErrorType` header and a JSON body with `Message` and `Reason`.
 */
import { rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { SimContext } from './context';
import {
  appendJournal,
  BLOCK_TOKEN_TTL_MS,
  blockToken,
  changedIndices,
  checkBlockToken,
  EBS_BLOCK_SIZE,
  linearAggregates,
  maskRanges,
  PAGE_TOKEN_TTL_MS,
  pageToken,
  pieceMask,
  readJournal,
  readPageToken,
  saveBlockMap,
  sealRanges,
  sha256Base64,
  snapshotBlockMap,
  sortedIndices,
  type JournalEntry,
} from './ebs-blocks';
import { newId } from './ids';
import type { SimState, SnapshotRec, SnapshotState } from './model';
import { newRequestId, type Tag } from './protocol';

const GiB = 1024 ** 3;
const MAX_VOLUME_GIB = 65_536;
const MAX_JSON_BODY = 1024 * 1024;

/** An error in the EBS direct APIs' REST-JSON shape. */
export class EbsError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'EbsError';
  }
}

const invalid = (reason: string, message: string) =>
  new EbsError('ValidationException', 400, message, reason);
const notFound = (id: string) =>
  new EbsError(
    'ResourceNotFoundException',
    404,
    `The snapshot '${id}' does not exist.`,
    'SNAPSHOT_NOT_FOUND',
  );

export function snapshotState(s: SnapshotRec): SnapshotState {
  return s.state ?? 'completed';
}

// ---------------------------------------------------------------------------------------------
// Pending snapshots: the acknowledged writes are journalled on disk and mirrored here.

interface Pending {
  writes: Map<number, JournalEntry>;
  /** Block indices with a PutSnapshotBlock under way, and the writes themselves. */
  inflight: Set<number>;
  active: Set<Promise<unknown>>;
  /** CompleteSnapshot has begun: no new block is taken, the ones under way are waited for. */
  closing: boolean;
}

const pendingByState = new WeakMap<SimState, Map<string, Promise<Pending>>>();

function pendingOf(ctx: SimContext, id: string): Promise<Pending> {
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

// ---------------------------------------------------------------------------------------------
// Request plumbing

export interface EbsHooks {
  /** The injected fault due for this action, if any. */
  fault(action: string): EbsError | undefined;
  latencyMs(): number;
  record(action: string, error?: string): void;
  /** Advances time-derived states before a call is answered. */
  tick(): void;
}

interface Route {
  action: string;
  run: (ctx: SimContext, req: IncomingMessage, url: URL) => Promise<Reply>;
}

interface Reply {
  status: number;
  headers?: Record<string, string>;
  json?: unknown;
  body?: Buffer;
}

export function isEbsPath(pathname: string): boolean {
  return pathname === '/snapshots' || pathname.startsWith('/snapshots/');
}

function route(method: string, pathname: string): { route: Route; params: string[] } | undefined {
  const parts = pathname.split('/').slice(1).map(decodeURIComponent);
  const [root, a, b, c] = parts;
  if (root !== 'snapshots') return undefined;
  const n = parts.length;
  if (method === 'POST' && n === 1) return { route: START, params: [] };
  if (method === 'POST' && n === 3 && a === 'completion') return { route: COMPLETE, params: [b as string] };
  if (method === 'PUT' && n === 4 && b === 'blocks')
    return { route: PUT, params: [a as string, c as string] };
  if (method === 'GET' && n === 4 && b === 'blocks')
    return { route: GET, params: [a as string, c as string] };
  if (method === 'GET' && n === 3 && b === 'blocks') return { route: LIST, params: [a as string] };
  if (method === 'GET' && n === 3 && b === 'changedblocks') return { route: CHANGED, params: [a as string] };
  return undefined;
}

const routeParams = new WeakMap<IncomingMessage, string[]>();

function param(req: IncomingMessage, n: number): string {
  return routeParams.get(req)?.[n] ?? '';
}

export async function handleEbs(
  ctx: SimContext,
  req: IncomingMessage,
  res: ServerResponse,
  hooks: EbsHooks,
): Promise<void> {
  const requestId = newRequestId();
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const found = route(req.method ?? 'GET', url.pathname);
  const action = found?.route.action ?? '(none)';
  let reply: Reply;
  try {
    if (!found) {
      await drain(req);
      throw new EbsError(
        'UnknownOperationException',
        404,
        `No operation matches ${req.method} ${url.pathname}`,
      );
    }
    routeParams.set(req, found.params);
    const latency = hooks.latencyMs();
    if (latency) await new Promise((r) => setTimeout(r, latency));
    const fault = hooks.fault(action);
    if (fault) {
      await drain(req);
      throw fault;
    }
    hooks.tick();
    reply = await found.route.run(ctx, req, url);
    hooks.record(action);
  } catch (err) {
    const e =
      err instanceof EbsError
        ? err
        : new EbsError(
            'InternalServerException',
            500,
            `An internal error has occurred. (${(err as Error).message})`,
          );
    if (!(err instanceof EbsError)) console.error('aws-sim: internal error (EBS)', err);
    hooks.record(action, e.code);
    reply = {
      status: e.status,
      headers: { 'x-amzn-errortype': e.code },
      json: e.reason === undefined ? { Message: e.message } : { Message: e.message, Reason: e.reason },
    };
  }
  if (res.destroyed) return;
  const body = reply.body ?? Buffer.from(reply.json === undefined ? '' : JSON.stringify(reply.json));
  res.writeHead(reply.status, {
    'content-type': reply.body ? 'application/octet-stream' : 'application/json',
    'content-length': body.length,
    'x-amzn-requestid': requestId,
    ...reply.headers,
  });
  res.end(body);
}

/** Reads and discards a request body (a refused request is still read to its end). */
async function drain(req: IncomingMessage): Promise<void> {
  for await (const chunk of req) void chunk;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size <= MAX_JSON_BODY) chunks.push(c);
  }
  if (size > MAX_JSON_BODY) throw invalid('INVALID_PARAMETER_VALUE', 'The request body is too large.');
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new EbsError('SerializationException', 400, 'The request body is not a JSON object.');
  }
}

/**
 * Reads a block body of at most EBS_BLOCK_SIZE bytes into one buffer, whatever its framing
 * (Content-Length or chunked, chunks of any size); the rest of a longer body is counted and dropped,
 * so memory stays at one block per request.
 */
async function readBlockBody(req: IncomingMessage): Promise<{ data: Buffer; total: number; cut: boolean }> {
  const buf = Buffer.alloc(EBS_BLOCK_SIZE);
  let total = 0;
  try {
    for await (const c of req as AsyncIterable<Buffer>) {
      if (total < EBS_BLOCK_SIZE) c.copy(buf, total, 0, Math.min(c.length, EBS_BLOCK_SIZE - total));
      total += c.length;
    }
  } catch {
    // the client went away mid-body: what arrived is not a block
    return { data: buf.subarray(0, Math.min(total, EBS_BLOCK_SIZE)), total, cut: true };
  }
  return { data: buf.subarray(0, Math.min(total, EBS_BLOCK_SIZE)), total, cut: false };
}

function checkSnapshotId(id: string, what = 'snapshot ID'): void {
  if (!/^snap-[0-9a-f]+$/.test(id) || id.length > 64) {
    throw invalid('INVALID_SNAPSHOT_ID', `The ${what} '${id}' is not valid.`);
  }
}

function findSnapshot(ctx: SimContext, id: string): SnapshotRec {
  checkSnapshotId(id);
  const s = ctx.state.snapshots[id];
  if (!s) throw notFound(id);
  return s;
}

/** Reads need a completed snapshot (EBS direct APIs FAQ: a pending snapshot cannot be accessed). */
function findCompleted(ctx: SimContext, id: string): SnapshotRec {
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

function parseIndex(raw: string, s: SnapshotRec): number {
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

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function intQuery(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null) return undefined;
  if (!/^\d+$/.test(v)) throw invalid('INVALID_PARAMETER_VALUE', `The value '${v}' of ${name} is not valid.`);
  return Number(v);
}

function epochSeconds(ms: number): number {
  return ms / 1000;
}

function tagsJson(tags: Tag[]): { Key: string; Value: string }[] | undefined {
  return tags.length ? tags.map((t) => ({ Key: t.key, Value: t.value })) : undefined;
}

// ---------------------------------------------------------------------------------------------
// StartSnapshot

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

const START: Route = {
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

// ---------------------------------------------------------------------------------------------
// PutSnapshotBlock

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

const PUT: Route = {
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

// ---------------------------------------------------------------------------------------------
// CompleteSnapshot

const COMPLETE: Route = {
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

// ---------------------------------------------------------------------------------------------
// ListSnapshotBlocks, ListChangedBlocks

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

const LIST: Route = {
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

const CHANGED: Route = {
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

// ---------------------------------------------------------------------------------------------
// GetSnapshotBlock

const GET: Route = {
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
