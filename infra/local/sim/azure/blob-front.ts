/**
 * The blob endpoint that managed-disk SAS URLs point at. It checks the SAS (signature, expiry,
 * revocation) and what it allows (Write: upload pages and read; Read: read only), enforces Azure's
 * 4 MiB Put Page limit that Azurite does not, answers Get Page Ranges Diff (Azurite 3.35 answers it
 * with 501) from the pages the simulator saw written, and forwards everything else to Azurite.
 */
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';

import { sasSignature, SAS_BLOB_NAME } from './disk-access';
import type { ArmContext } from './context';
import { blobError } from './errors';
import { type AccessRec, type DiskRec, type SnapshotRec } from './model';
import { clipRanges, mergeChanges, noChanges, recordWrite, type PageChanges } from './ranges';

export const MAX_PAGE_WRITE = 4 * 1024 * 1024;
const SAS_PARAMS = new Set(['sv', 'sr', 'si', 'sig', 'se', 'st', 'sp', 'spr', 'snapshot']);

export interface BlobTarget {
  access: AccessRec;
  disk?: DiskRec;
  snapshot?: SnapshotRec;
  blob: string;
  blobSnapshot?: string;
  size: number;
}

const authFailed = (detail: string) =>
  blobError(
    'AuthenticationFailed',
    `Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature. ${detail}`,
    403,
  );

const notPermitted = () =>
  blobError(
    'AuthorizationPermissionMismatch',
    'This request is not authorized to perform this operation using this permission.',
    403,
  );

/** Resolves a SAS URL's path and query to what it grants, or throws AuthenticationFailed. */
export function resolveSas(ctx: ArmContext, pathname: string, query: URLSearchParams): BlobTarget {
  const parts = pathname.split('/').filter(Boolean);
  const [, container, blob] = parts;
  const si = query.get('si');
  const sig = query.get('sig');
  if (!si || !sig || !container || blob !== SAS_BLOB_NAME || parts.length !== 3)
    throw authFailed('The request carries no valid shared access signature for a managed disk.');
  const access = ctx.state.accesses[si];
  const expected = Buffer.from(sasSignature(ctx.state.secret, si, container));
  const given = Buffer.from(sig);
  if (
    !access ||
    access.container !== container ||
    expected.length !== given.length ||
    !timingSafeEqual(expected, given)
  )
    throw authFailed('Signature did not match.');
  if (access.revoked) throw authFailed('The access to this disk or snapshot has been revoked.');
  if (ctx.now() > access.expiresAt)
    throw authFailed(
      `Signed expiry time [${new Date(access.expiresAt).toUTCString()}] must be after the current time.`,
    );
  const disk = ctx.state.disks[access.resourceId];
  const snapshot = ctx.state.snapshots[access.resourceId];
  if (disk && disk.deletingUntil === undefined)
    return { access, disk, blob: disk.blob, size: disk.uploadSizeBytes };
  if (snapshot && snapshot.deletingUntil === undefined)
    return {
      access,
      snapshot,
      blob: snapshot.blob,
      blobSnapshot: snapshot.blobSnapshot,
      size: snapshot.sizeBytes,
    };
  throw blobError('BlobNotFound', 'The specified blob does not exist.', 404);
}

/** The blob operation a request is, by Azure's REST names; undefined for operations a disk SAS never allows. */
export function blobOperation(req: IncomingMessage, query: URLSearchParams): string | undefined {
  const comp = query.get('comp');
  if (req.method === 'PUT' && comp === 'page') return 'PageBlob_UploadPages';
  if (req.method === 'GET' && comp === 'pagelist') {
    const diff = query.has('prevsnapshot') || req.headers['x-ms-previous-snapshot-url'] !== undefined;
    return diff ? 'PageBlob_GetPageRangesDiff' : 'PageBlob_GetPageRanges';
  }
  if (req.method === 'GET' && !comp) return 'Blob_Download';
  if (req.method === 'HEAD' && !comp) return 'Blob_GetProperties';
  if ((req.method === 'GET' || req.method === 'HEAD') && comp === 'metadata') return 'Blob_GetMetadata';
  return undefined;
}

function parseRange(req: IncomingMessage): { start: number; end: number } | undefined {
  const raw = req.headers['x-ms-range'] ?? req.headers.range;
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value) return undefined;
  const m = /^bytes=(\d+)-(\d*)$/.exec(value.trim());
  if (!m) throw blobError('InvalidRange', `The range specified is invalid: ${value}.`, 416);
  const start = Number(m[1]);
  const end = m[2] ? Number(m[2]) + 1 : Number.MAX_SAFE_INTEGER;
  return { start, end };
}

function findPrevious(
  ctx: ArmContext,
  req: IncomingMessage,
  query: URLSearchParams,
  target: BlobTarget,
): SnapshotRec {
  const header = req.headers['x-ms-previous-snapshot-url'];
  const prevUrl = Array.isArray(header) ? header[0] : header;
  let prev: SnapshotRec | undefined;
  if (prevUrl) {
    let url: URL;
    try {
      url = new URL(prevUrl);
    } catch {
      throw blobError(
        'InvalidHeaderValue',
        'The value for the header x-ms-previous-snapshot-url is not a URL.',
        400,
      );
    }
    const base = resolveSas(ctx, decodeURIComponent(url.pathname), url.searchParams);
    prev = base.snapshot;
  } else {
    const ts = query.get('prevsnapshot');
    prev = Object.values(ctx.state.snapshots).find(
      (s) => s.blob === target.blob && s.blobSnapshot === ts && s.deletingUntil === undefined,
    );
  }
  if (!prev || prev.blob !== target.blob || !target.snapshot || prev.seq >= target.snapshot.seq)
    throw blobError(
      'PreviousSnapshotNotFound',
      'The previous snapshot is not an older snapshot of the same disk as the snapshot this request reads.',
      409,
    );
  return prev;
}

/** Pages changed between `prev` and the target snapshot, from the writes the simulator recorded. */
function changesBetween(ctx: ArmContext, prev: SnapshotRec, target: SnapshotRec): PageChanges {
  return Object.values(ctx.state.snapshots)
    .filter(
      (s) =>
        s.blob === target.blob && s.seq > prev.seq && s.seq <= target.seq && s.deletingUntil === undefined,
    )
    .sort((a, b) => a.seq - b.seq)
    .reduce((acc, s) => mergeChanges(acc, s.changes), noChanges());
}

function pageListXml(changes: PageChanges, start: number, end: number): string {
  const items = [
    ...clipRanges(changes.written, start, end).map(([a, b]) => ({ a, b, tag: 'PageRange' })),
    ...clipRanges(changes.cleared, start, end).map(([a, b]) => ({ a, b, tag: 'ClearRange' })),
  ].sort((x, y) => x.a - y.a);
  const body = items.map((i) => `<${i.tag}><Start>${i.a}</Start><End>${i.b - 1}</End></${i.tag}>`).join('');
  return `<?xml version="1.0" encoding="utf-8"?><PageList>${body}</PageList>`;
}

export function answerPageRangesDiff(
  ctx: ArmContext,
  req: IncomingMessage,
  res: ServerResponse,
  query: URLSearchParams,
  target: BlobTarget,
  requestId: string,
): void {
  if (!target.snapshot)
    throw blobError(
      'InvalidQueryParameterValue',
      'Get Page Ranges Diff of a managed disk must be called on a snapshot SAS (grant Read access to an incremental snapshot).',
      400,
    );
  const prev = findPrevious(ctx, req, query, target);
  const range = parseRange(req);
  const xml = pageListXml(
    changesBetween(ctx, prev, target.snapshot),
    range?.start ?? 0,
    Math.min(range?.end ?? target.size, target.size),
  );
  res.writeHead(200, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(xml),
    'x-ms-blob-content-length': String(target.size),
    'last-modified': new Date(target.snapshot.createdAt).toUTCString(),
    etag: `"0x${target.snapshot.createdAt.toString(16).toUpperCase()}"`,
    'x-ms-request-id': requestId,
    'x-ms-version': headerValue(req, 'x-ms-version') ?? '2025-11-05',
    date: new Date().toUTCString(),
  });
  res.end(xml);
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Checks a Put Page against Azure's limits before it reaches Azurite; returns the page range it writes. */
export function checkPageWrite(
  req: IncomingMessage,
  target: BlobTarget,
): { start: number; end: number; clear: boolean } {
  if (target.access.mode !== 'Write' || !target.disk || target.disk.state !== 'ActiveUpload')
    throw notPermitted();
  const clear = headerValue(req, 'x-ms-page-write') === 'clear';
  const range = parseRange(req);
  if (!range || range.end === Number.MAX_SAFE_INTEGER)
    throw blobError(
      'MissingRequiredHeader',
      'An HTTP header that is mandatory for this request is not specified: x-ms-range.',
      400,
    );
  if (range.start % 512 !== 0 || (range.end - range.start) % 512 !== 0)
    throw blobError(
      'InvalidPageRange',
      'The page range specified is invalid: it must start and end on 512-byte boundaries.',
      416,
    );
  if (range.end > target.size)
    throw blobError(
      'InvalidPageRange',
      `The page range ends beyond the blob's size of ${target.size} bytes.`,
      416,
    );
  const length = Number(headerValue(req, 'content-length') ?? '0');
  if (!clear && (length > MAX_PAGE_WRITE || range.end - range.start > MAX_PAGE_WRITE))
    throw blobError(
      'RequestBodyTooLarge',
      'The request body is too large and exceeds the maximum permissible limit.',
      413,
    );
  if (!clear && length !== range.end - range.start)
    throw blobError(
      'InvalidHeaderValue',
      `Content-Length ${length} does not match the range of ${range.end - range.start} bytes.`,
      400,
    );
  return { ...range, clear };
}

export function checkRead(target: BlobTarget): void {
  // an upload SAS may read back what it wrote; a read SAS only reads
  if (target.access.mode === 'Write' && target.disk?.state !== 'ActiveUpload') throw notPermitted();
}

export function assertAllowed(op: string | undefined): string {
  if (!op) throw notPermitted();
  return op;
}

/** Records a successful page write on the disk's pending changes. */
export function recordPageWrite(target: BlobTarget, w: { start: number; end: number; clear: boolean }): void {
  if (target.disk) target.disk.pending = recordWrite(target.disk.pending, w.start, w.end, w.clear);
}

/** Forwards the request to Azurite (its own SAS replaces the client's) and streams the answer back. */
export function forwardToAzurite(
  req: IncomingMessage,
  res: ServerResponse,
  query: URLSearchParams,
  azuriteUrl: string,
): Promise<number> {
  const target = new URL(azuriteUrl);
  for (const [k, v] of query) if (!SAS_PARAMS.has(k)) target.searchParams.append(k, v);
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || k === 'host' || k === 'authorization' || k === 'connection') continue;
    headers[k] = v;
  }
  return new Promise((resolve, reject) => {
    const out = httpRequest(target, { method: req.method, headers }, (upstream) => {
      const status = upstream.statusCode ?? 502;
      const passHeaders: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(upstream.headers)) {
        if (v !== undefined && k !== 'connection' && k !== 'keep-alive') passHeaders[k] = v;
      }
      res.writeHead(status, passHeaders);
      upstream.pipe(res);
      upstream.on('end', () => resolve(status));
      upstream.on('error', reject);
    });
    out.on('error', reject);
    req.pipe(out);
  });
}
