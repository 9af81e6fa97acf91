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
 *
 * This file routes and answers; the operations are in ebs-write.ts and ebs-read.ts, the request
 * plumbing they share in ebs-http.ts, snapshot lookups and pending-snapshot state in ebs-snapshots.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { SimContext } from './context';
import { drain, EbsError, setRouteParams, type Reply, type Route } from './ebs-http';
import { GET_SNAPSHOT_BLOCK, LIST_CHANGED_BLOCKS, LIST_SNAPSHOT_BLOCKS } from './ebs-read';
import { COMPLETE_SNAPSHOT, PUT_SNAPSHOT_BLOCK, START_SNAPSHOT } from './ebs-write';
import { newRequestId } from './protocol';

export interface EbsHooks {
  /** The injected fault due for this action, if any. */
  fault(action: string): EbsError | undefined;
  latencyMs(): number;
  record(action: string, error?: string): void;
  /** Advances time-derived states before a call is answered. */
  tick(): void;
}

export function isEbsPath(pathname: string): boolean {
  return pathname === '/snapshots' || pathname.startsWith('/snapshots/');
}

function route(method: string, pathname: string): { route: Route; params: string[] } | undefined {
  const parts = pathname.split('/').slice(1).map(decodeURIComponent);
  const [root, a, b, c] = parts;
  if (root !== 'snapshots') return undefined;
  const n = parts.length;
  if (method === 'POST' && n === 1) return { route: START_SNAPSHOT, params: [] };
  if (method === 'POST' && n === 3 && a === 'completion')
    return { route: COMPLETE_SNAPSHOT, params: [b as string] };
  if (method === 'PUT' && n === 4 && b === 'blocks')
    return { route: PUT_SNAPSHOT_BLOCK, params: [a as string, c as string] };
  if (method === 'GET' && n === 4 && b === 'blocks')
    return { route: GET_SNAPSHOT_BLOCK, params: [a as string, c as string] };
  if (method === 'GET' && n === 3 && b === 'blocks')
    return { route: LIST_SNAPSHOT_BLOCKS, params: [a as string] };
  if (method === 'GET' && n === 3 && b === 'changedblocks')
    return { route: LIST_CHANGED_BLOCKS, params: [a as string] };
  return undefined;
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
    setRouteParams(req, found.params);
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
