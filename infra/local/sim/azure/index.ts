/**
 * Azure simulator: Microsoft Entra ID token endpoints and Azure Resource Manager (Microsoft.Compute
 * disks, snapshots, virtual machines; Microsoft.Network virtual networks, subnets, network interfaces)
 * over HTTPS with a self-signed certificate, plus the blob endpoint that managed-disk SAS URLs point
 * at, backed by Azurite page blobs and blob snapshots. The real `@azure/identity`,
 * `@azure/arm-compute`, `@azure/arm-network` and `@azure/storage-blob` clients run against it
 * unchanged (trusting `ca`). Long-running operations answer 201/202 with Azure-AsyncOperation and
 * Location and never Retry-After; faults (429, 5xx, latency) are injected as in the AWS simulator.
 * See README.md for what it covers and its rules.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { checkBearer, handleAad, type AadConfig } from './aad';
import { routeArm, sweep } from './arm';
import { startAzurite, type AzuriteStore } from './azurite';
import {
  answerPageRangesDiff,
  assertAllowed,
  blobOperation,
  checkPageWrite,
  checkRead,
  forwardToAzurite,
  MAX_PAGE_WRITE,
  recordPageWrite,
  resolveSas,
} from './blob-front';
import { tickVms } from './virtual-machines';
import type { ArmContext, ArmRequest } from './context';
import { armError, AzureSimError, AzureSimUsageError, blobError } from './errors';
import { emptyState, key, resolveTiming, type AzureSimState, type AzureSimTiming } from './model';
import { recordWrite } from './ranges';
import { loadOrMakeTls } from './tls';
import { listRetailPrices } from './retail-prices';
import { LIST_PRICE_SNAPSHOT } from '../../../../shared/pricing/list-price-snapshot';
import type { AzureRetailPriceItem } from '../../../../shared/pricing/azure-meters';

export type { AzureSimTiming } from './model';
export { AzureSimError, AzureSimUsageError } from './errors';
export { MAX_PAGE_WRITE } from './blob-front';

/** Which calls a fault applies to, and how often (the AWS simulator's shape). */
export interface AzureSimFaultRule {
  /** Operation ids (`Disks_GrantAccess`, `AsyncOperation_Get`, `Token`, `PageBlob_UploadPages`); all when omitted. */
  actions?: string[];
  /** Fail the next `count` matching calls, then stop. */
  count?: number;
  /** Fail each matching call with this probability (0..1). Used when `count` is not given. */
  rate?: number;
}

export interface AzureSimFaults {
  /**
   * ARM: 429 TooManyRequests with Retry-After (seconds, default 0) as Azure throttles; the SDK's
   * retry policy honours it. Blob: 503 ServerBusy. With neither count nor rate, every matching call fails.
   */
  throttle?: AzureSimFaultRule & { retryAfterSeconds?: number };
  /** ARM: 500 InternalServerError (default) or 503 ServiceUnavailable. Blob: 500 InternalError or 503 ServerBusy. */
  serverError?: AzureSimFaultRule & { status?: 500 | 503 };
  /** Added to every request before it is answered. */
  latencyMs?: number;
}

export interface AzureSimulatorOptions {
  /** state.json, the TLS identity and Azurite's files live here; reuse it to keep state across restarts. In memory when omitted. */
  stateDir?: string;
  /** ARM/AAD port (0: any). Pin it, and blobPort, when URLs handed out before a restart must keep working. */
  port?: number;
  /** Blob front port (0: any); SAS URLs carry it. */
  blobPort?: number;
  host?: '127.0.0.1';
  timing?: Partial<AzureSimTiming>;
  faults?: AzureSimFaults;
  /** Resource groups that exist (default ['burstgate']). */
  resourceGroups?: string[];
  subscriptionId?: string;
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  /** Access-token lifetime (default 3599 s, as Entra ID). */
  tokenLifetimeSeconds?: number;
  /** What the Retail Prices API answers from (default: the shipped list-price snapshot's Azure part). */
  retailPrices?: readonly AzureRetailPriceItem[];
}

export interface AzureSimResourceRef {
  id: string;
  state: string;
}

/** Every live resource: what a test checks to prove nothing was left behind. */
export interface AzureSimResources {
  disks: AzureSimResourceRef[];
  snapshots: AzureSimResourceRef[];
  virtualMachines: AzureSimResourceRef[];
  networkInterfaces: AzureSimResourceRef[];
  virtualNetworks: AzureSimResourceRef[];
}

export interface AzureSimCall {
  /** Operation id: `Disks_CreateOrUpdate`, `AsyncOperation_Get`, `Token`, `PageBlob_UploadPages`, … */
  action: string;
  at: number;
  status: number;
  /** The error code answered, if any. */
  error?: string;
}

export interface AzureSimulator {
  /** ARM and AAD endpoint (authorityHost and ARM endpoint for the clients). */
  url: string;
  /** Where SAS URLs point. */
  blobUrl: string;
  /** PEM of the self-signed certificate; pass as `tlsOptions.ca`. */
  ca: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  subscriptionId: string;
  resourceGroups: string[];
  faults: AzureSimFaults;
  setFaults(f: AzureSimFaults): void;
  calls: ReadonlyArray<AzureSimCall>;
  resources(): AzureSimResources;
  /**
   * Stands in for the guest of a running VM writing its OS disk: writes `bytes` at `offset` (both
   * 512-aligned, inside the disk's content, not its VHD footer), recorded like any page write.
   */
  guestWrite(diskId: string, offset: number, bytes: Buffer): Promise<void>;
  /** The whole page blob of a disk or snapshot (for an uploaded disk: the fixed VHD, content then footer). */
  readDisk(id: string): Promise<Buffer>;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

function loadState(file: string | undefined): AzureSimState {
  const fresh = () => emptyState(randomBytes(32).toString('base64'));
  if (!file) return fresh();
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as AzureSimState;
    if (s.version !== 1)
      throw new Error(`azure-sim: unsupported state version ${String(s.version)} in ${file}`);
    return s;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fresh();
    throw err;
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(armError('RequestEntityTooLarge', 'The request content is too large.', 413));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function faultHits(rule: AzureSimFaultRule | undefined, action: string): boolean {
  if (!rule) return false;
  if (rule.actions && !rule.actions.includes(action)) return false;
  if (rule.count !== undefined) {
    if (rule.count <= 0) return false;
    rule.count -= 1;
    return true;
  }
  if (rule.rate !== undefined) return Math.random() < rule.rate;
  return true;
}

/**
 * The error a front answers with: the simulator's own as it is; anything else is a simulator bug,
 * logged and answered as a 500 in the front's shape (`internal`, given the error's message).
 */
function answerable(err: unknown, internal: (detail: string) => AzureSimError, logAs: string): AzureSimError {
  if (err instanceof AzureSimError) return err;
  const e = internal((err as Error).message);
  console.error(logAs, err);
  return e;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
  if (body === undefined) {
    res.writeHead(status, { ...headers, 'content-length': 0 });
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendBlobError(res: ServerResponse, e: AzureSimError, requestId: string): void {
  const xml = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${e.code}</Code><Message>${e.message
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')}\nRequestId:${requestId}\nTime:${new Date().toISOString()}</Message></Error>`;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(e.status, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(xml),
    'x-ms-error-code': e.code,
    'x-ms-request-id': requestId,
  });
  res.end(xml);
}

async function listen(server: Server, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

export async function startAzureSimulator(opts: AzureSimulatorOptions = {}): Promise<AzureSimulator> {
  const stateDir = opts.stateDir;
  if (stateDir) mkdirSync(join(stateDir, 'azurite'), { recursive: true });
  const stateFile = stateDir ? join(stateDir, 'state.json') : undefined;
  const state = loadState(stateFile);
  const tls = await loadOrMakeTls(stateDir);
  const store: AzuriteStore = await startAzurite(stateDir ? join(stateDir, 'azurite') : undefined);

  const subscriptionId = opts.subscriptionId ?? '00000000-0000-4000-8000-00000000b0b0';
  const tenantId = opts.tenantId ?? '11111111-1111-4111-8111-11111111b0b0';
  const clientId = opts.clientId ?? '22222222-2222-4222-8222-22222222b0b0';
  const clientSecret = opts.clientSecret ?? 'burstgate-sim-secret';
  const groups = opts.resourceGroups ?? ['burstgate'];
  let faults: AzureSimFaults = structuredClone(opts.faults ?? {});
  const calls: AzureSimCall[] = [];

  const armServer = createServer({ cert: tls.cert, key: tls.key });
  const blobServer = createServer({ cert: tls.cert, key: tls.key });
  const armPort = await listen(armServer, opts.port ?? 0);
  const blobPort = await listen(blobServer, opts.blobPort ?? 0);
  const url = `https://127.0.0.1:${armPort}`;
  const retailPrices = opts.retailPrices ?? LIST_PRICE_SNAPSHOT.azure;
  const blobUrl = `https://127.0.0.1:${blobPort}`;

  const ctx: ArmContext = {
    state,
    timing: resolveTiming(opts.timing),
    store,
    subscriptionId,
    resourceGroups: new Map(groups.map((g) => [g.toLowerCase(), g])),
    armUrl: url,
    blobUrl,
    now: () => Date.now(),
    newId: () => randomUUID(),
    save() {
      if (!stateFile) return;
      const tmp = `${stateFile}.tmp`;
      writeFileSync(tmp, JSON.stringify(state));
      renameSync(tmp, stateFile);
    },
  };
  const aad: AadConfig = {
    url,
    tenantId,
    clientId,
    clientSecret,
    secret: state.secret,
    now: ctx.now,
    tokenLifetimeSeconds: opts.tokenLifetimeSeconds ?? 3599,
  };

  function tick(): void {
    const a = tickVms(ctx);
    const b = sweep(ctx);
    if (a || b) ctx.save();
  }

  function armFault(action: string): AzureSimError | undefined {
    if (faultHits(faults.throttle, action))
      return armError(
        'TooManyRequests',
        `The request is being throttled as the limit has been reached for operation type - ${action}. For more information, see - https://aka.ms/throttling.`,
        429,
        { 'Retry-After': String(faults.throttle?.retryAfterSeconds ?? 0) },
      );
    if (faultHits(faults.serverError, action))
      return faults.serverError?.status === 503
        ? armError(
            'ServiceUnavailable',
            'The service is temporarily unavailable. Please retry the request later.',
            503,
          )
        : armError('InternalServerError', 'An internal execution error occurred. Please retry later.', 500);
    return undefined;
  }

  async function handleArm(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const baseHeaders = { 'x-ms-request-id': requestId, 'x-ms-correlation-request-id': requestId };
    let action = '(none)';
    try {
      const u = new URL(req.url ?? '/', url);
      const raw = await readBody(req);
      if (faults.latencyMs) await new Promise((r) => setTimeout(r, faults.latencyMs));
      const segments = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      const method = req.method ?? 'GET';
      if (segments.join('/') === 'api/retail/prices' && method === 'GET') {
        // unauthenticated, as Azure serves it
        action = 'RetailPrices';
        const fault = armFault(action);
        if (fault) throw fault;
        const out = listRetailPrices(url, retailPrices, u.searchParams);
        calls.push({ action, at: Date.now(), status: out.status });
        sendJson(res, out.status, out.body, baseHeaders);
        return;
      }
      if (segments[0]?.toLowerCase() !== 'subscriptions') {
        const form = new URLSearchParams(raw.toString('utf8'));
        const isToken = segments[1] === 'oauth2';
        action = isToken
          ? 'Token'
          : segments[1] === 'discovery'
            ? 'InstanceDiscovery'
            : 'OpenIdConfiguration';
        const fault = armFault(action);
        if (fault) throw fault;
        const out = handleAad(aad, method, segments, form);
        if (!out) throw armError('NotFound', `No such endpoint: ${method} ${u.pathname}`, 404);
        calls.push({ action, at: Date.now(), status: out.status });
        sendJson(res, out.status, out.body, { ...baseHeaders, 'cache-control': 'no-store' });
        return;
      }
      checkBearer(aad, req.headers.authorization);
      const apiVersion = u.searchParams.get('api-version');
      if (!apiVersion)
        throw armError(
          'MissingApiVersionParameter',
          'The api-version query parameter (?api-version=) is required for all requests.',
          400,
        );
      if (segments[1] !== subscriptionId)
        throw armError(
          'SubscriptionNotFound',
          `The subscription '${segments[1] ?? ''}' could not be found.`,
          404,
        );
      const route = routeArm(method, segments, apiVersion);
      action = route.action;
      const fault = armFault(action);
      if (fault) throw fault;
      let body: unknown;
      if (raw.length) {
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch (err) {
          throw armError(
            'InvalidRequestContent',
            `The request content was invalid and could not be deserialized: '${(err as Error).message}'.`,
          );
        }
      }
      tick();
      const armReq: ArmRequest = { method, segments, query: u.searchParams, body, apiVersion };
      const out = await route.run(ctx, armReq);
      calls.push({ action, at: Date.now(), status: out.status });
      sendJson(res, out.status, out.body, { ...baseHeaders, ...out.headers });
    } catch (err) {
      const e = answerable(
        err,
        (detail) => armError('InternalServerError', `An internal execution error occurred. (${detail})`, 500),
        'azure-sim: internal error',
      );
      calls.push({ action, at: Date.now(), status: e.status, error: e.code });
      sendJson(
        res,
        e.status,
        { error: { code: e.code, message: e.message } },
        { ...baseHeaders, ...e.headers },
      );
    }
  }

  function blobFault(action: string): AzureSimError | undefined {
    if (faultHits(faults.throttle, action)) return blobError('ServerBusy', 'The server is busy.', 503);
    if (faultHits(faults.serverError, action))
      return faults.serverError?.status === 503
        ? blobError('ServerBusy', 'Operations per second is over the account limit.', 503)
        : blobError(
            'InternalError',
            'Server encountered an internal error. Please try again after some time.',
            500,
          );
    return undefined;
  }

  async function handleBlob(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    let action = '(none)';
    try {
      const u = new URL(req.url ?? '/', blobUrl);
      if (faults.latencyMs) await new Promise((r) => setTimeout(r, faults.latencyMs));
      tick();
      action = blobOperation(req, u.searchParams) ?? `Blob_${req.method ?? ''}`;
      const target = resolveSas(ctx, decodeURIComponent(u.pathname), u.searchParams);
      const op = assertAllowed(blobOperation(req, u.searchParams));
      const fault = blobFault(op);
      if (fault) throw fault;
      if (op === 'PageBlob_GetPageRangesDiff') {
        answerPageRangesDiff(ctx, req, res, u.searchParams, target, requestId);
        calls.push({ action, at: Date.now(), status: 200 });
        return;
      }
      const write = op === 'PageBlob_UploadPages' ? checkPageWrite(req, target) : undefined;
      if (!write) checkRead(target);
      const status = await forwardToAzurite(
        req,
        res,
        u.searchParams,
        store.signedUrl(target.blob, target.blobSnapshot),
      );
      if (write && status >= 200 && status < 300) {
        recordPageWrite(target, write);
        ctx.save();
      }
      calls.push({ action, at: Date.now(), status });
    } catch (err) {
      const e = answerable(
        err,
        (detail) => blobError('InternalError', `Server encountered an internal error. (${detail})`, 500),
        'azure-sim: blob front error',
      );
      calls.push({ action, at: Date.now(), status: e.status, error: e.code });
      // drain what the client still sends so it reads our answer instead of a reset
      req.resume();
      sendBlobError(res, e, requestId);
    }
  }

  armServer.on('request', (req, res) => void handleArm(req, res));
  blobServer.on('request', (req, res) => void handleBlob(req, res));
  tick();
  ctx.save();

  let closed = false;
  const sim: AzureSimulator = {
    url,
    blobUrl,
    ca: tls.cert,
    tenantId,
    clientId,
    clientSecret,
    subscriptionId,
    resourceGroups: groups,
    get faults() {
      return faults;
    },
    set faults(f: AzureSimFaults) {
      faults = structuredClone(f);
    },
    setFaults(f) {
      faults = structuredClone(f);
    },
    calls,
    resources() {
      tick();
      const live = <T extends { id: string }>(t: Record<string, T>, stateOf: (r: T) => string) =>
        Object.values(t).map((r) => ({ id: r.id, state: stateOf(r) }));
      return {
        disks: live(state.disks, (d) => d.state),
        snapshots: live(state.snapshots, (s) => s.state),
        virtualMachines: live(state.vms, (v) => `PowerState/${v.power}`),
        networkInterfaces: live(state.nics, (n) => (n.virtualMachine ? 'InUse' : 'Unattached')),
        virtualNetworks: live(state.vnets, () => 'Succeeded'),
      };
    },
    async guestWrite(diskId, offset, bytes) {
      tick();
      const disk = state.disks[key(diskId)];
      if (!disk || disk.deletingUntil !== undefined) throw new AzureSimUsageError(`no disk ${diskId}`);
      const vm = disk.managedBy ? state.vms[key(disk.managedBy)] : undefined;
      if (!vm || vm.power !== 'running')
        throw new AzureSimUsageError(
          `disk ${disk.name} is not the OS disk of a running VM; a guest cannot write it`,
        );
      if (offset % 512 !== 0 || bytes.length % 512 !== 0 || offset < 0)
        throw new AzureSimUsageError(
          `guest writes must be 512-aligned (offset ${offset}, ${bytes.length} bytes)`,
        );
      if (offset + bytes.length > disk.uploadSizeBytes - 512)
        throw new AzureSimUsageError(
          `guest write [${offset}, ${offset + bytes.length}) runs past the disk's ${disk.uploadSizeBytes - 512} content bytes`,
        );
      for (let at = 0; at < bytes.length; at += MAX_PAGE_WRITE) {
        const chunk = bytes.subarray(at, Math.min(bytes.length, at + MAX_PAGE_WRITE));
        await store.writePages(disk.blob, offset + at, chunk);
        disk.pending = recordWrite(disk.pending, offset + at, offset + at + chunk.length, false);
      }
      ctx.save();
    },
    async readDisk(id) {
      tick();
      const disk = state.disks[key(id)];
      if (disk && disk.deletingUntil === undefined) return store.read(disk.blob, 0, disk.uploadSizeBytes);
      const snap = state.snapshots[key(id)];
      if (snap && snap.deletingUntil === undefined)
        return store.read(snap.blob, 0, snap.sizeBytes, snap.blobSnapshot);
      throw new AzureSimUsageError(`no disk or snapshot ${id}`);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const s of [armServer, blobServer]) s.closeAllConnections();
      await Promise.all([armServer, blobServer].map((s) => new Promise<void>((r) => s.close(() => r()))));
      await store.close();
      ctx.save();
    },
  };
  return sim;
}
