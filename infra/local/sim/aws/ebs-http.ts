/**
 * The REST-JSON plumbing the EBS direct API routes share: the error shape (answered with the error's
 * HTTP status, an `x-amzn-ErrorType` header and a JSON body with `Message` and `Reason`), what a route
 * answers, and reading a request's path parameters, headers, query and body (JSON, or one block).
 */
import type { IncomingMessage } from 'node:http';

import type { SimContext } from './context';
import { EBS_BLOCK_SIZE } from './ebs-blocks';

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

export const invalid = (reason: string, message: string) =>
  new EbsError('ValidationException', 400, message, reason);
export const notFound = (id: string) =>
  new EbsError(
    'ResourceNotFoundException',
    404,
    `The snapshot '${id}' does not exist.`,
    'SNAPSHOT_NOT_FOUND',
  );

export interface Route {
  action: string;
  run: (ctx: SimContext, req: IncomingMessage, url: URL) => Promise<Reply>;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  json?: unknown;
  body?: Buffer;
}

const routeParams = new WeakMap<IncomingMessage, string[]>();

export function param(req: IncomingMessage, n: number): string {
  return routeParams.get(req)?.[n] ?? '';
}

/** Keeps a matched route's path parameters for `param` to read. */
export function setRouteParams(req: IncomingMessage, params: string[]): void {
  routeParams.set(req, params);
}

/** Reads and discards a request body (a refused request is still read to its end). */
export async function drain(req: IncomingMessage): Promise<void> {
  for await (const chunk of req) void chunk;
}

export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
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
export async function readBlockBody(
  req: IncomingMessage,
): Promise<{ data: Buffer; total: number; cut: boolean }> {
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

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export function intQuery(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null) return undefined;
  if (!/^\d+$/.test(v)) throw invalid('INVALID_PARAMETER_VALUE', `The value '${v}' of ${name} is not valid.`);
  return Number(v);
}

export function epochSeconds(ms: number): number {
  return ms / 1000;
}
