/**
 * AWS simulator: an HTTP server speaking the EC2 Query protocol (API version 2016-11-15), so
 * `@aws-sdk/client-ec2` is used unchanged against `sim.url`, and the EBS direct APIs (REST-JSON,
 * 2019-11-02, paths under `/snapshots`) for `@aws-sdk/client-ebs` on the same URL. It covers what
 * burstgate calls: VM Import (ImportImage & co.), AMIs and snapshots (also StartSnapshot →
 * PutSnapshotBlock → CompleteSnapshot → RegisterImage, CreateSnapshot, ListChangedBlocks with
 * snapshot lineage), instances, VM Export (CreateInstanceExportTask) and tags, with AWS's state
 * machines over (configurable) time, real disk bytes kept as sparse files under `stateDir`, fault
 * injection, and persistence across restarts.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import type { S3Client } from '@aws-sdk/client-s3';

import type { DiskStream } from '../../../../shared/images';
import type { Handler, SimContext } from './context';
import { DiskStore } from './disks';
import { handleEbs, isEbsPath } from './ebs';
import { EbsError } from './ebs-http';
import { snapshotState, tickSnapshots } from './ebs-snapshots';
import { createSnapshot, registerImage, writeInstanceDisk } from './ebs-ec2';
import { describeInstanceTypes } from './instance-types';
import { answerJson, JsonServiceError, jsonTarget, type JsonOperation } from './json-protocol';
import { getProducts } from './pricing';
import { LIST_PRICE_SNAPSHOT } from '../../../../shared/pricing/list-price-snapshot';
import type { AwsPriceListItem } from '../../../../shared/pricing/aws-products';
import {
  cancelExportTask,
  createInstanceExportTask,
  describeExportTasks,
  resumeExports,
  tickExports,
} from './exports';
import { createTags, deleteSnapshot, deregisterImage, describeImages, describeSnapshots } from './images';
import {
  cancelImportTask,
  describeImportImageTasks,
  importImage,
  isLiveImportTask,
  resumeImports,
  tickImports,
} from './imports';
import {
  describeInstances,
  isLiveInstance,
  runInstances,
  startInstances,
  stopInstances,
  terminateInstances,
  tickInstances,
} from './instances';
import { emptyState, resolveTiming, type AwsSimTiming, type SimState } from './model';
import { Ec2Error, newRequestId, parseQuery, qBool, qStr, renderError, renderResponse } from './protocol';

export type { AwsSimTiming } from './model';

/** Which calls a fault applies to, and how often. */
export interface AwsSimFaultRule {
  /**
   * Action names: EC2 (`DescribeImportImageTasks`) or EBS direct (`PutSnapshotBlock`); all actions
   * when omitted.
   */
  actions?: string[];
  /** Fail the next `count` matching calls, then stop. */
  count?: number;
  /** Fail each matching call with this probability (0..1). Used when `count` is not given. */
  rate?: number;
}

export interface AwsSimFaults {
  /**
   * `RequestLimitExceeded` (HTTP 503) on EC2 calls, `RequestThrottledException` (HTTP 400, Reason
   * ACCOUNT_THROTTLED) on EBS direct calls. With neither count nor rate, every matching call fails.
   */
  throttle?: AwsSimFaultRule;
  /**
   * EC2: `InternalError` (HTTP 500, the default) or `Unavailable` (HTTP 503). EBS direct:
   * `InternalServerException` with HTTP 500, or 503 for `Unavailable`.
   */
  serverError?: AwsSimFaultRule & { code?: 'InternalError' | 'Unavailable' };
  /** Added to every request before it is answered. */
  latencyMs?: number;
  /** The next ImportImage task ends `deleted` with this StatusMessage (prefixed `ClientError: ` if needed). */
  failImport?: { message: string };
}

export interface AwsSimulatorOptions {
  /** Where the simulator reads import sources and writes exports (injected; e.g. s3rver). */
  s3: S3Client;
  /** Resource tables (state.json) and disk files live here; reuse it to keep state across restarts. */
  stateDir: string;
  port?: number;
  host?: '127.0.0.1';
  timing?: Partial<AwsSimTiming>;
  faults?: AwsSimFaults;
  region?: string;
  accountId?: string;
  /** The products GetProducts answers from (default: the shipped list-price snapshot's AWS part). */
  priceList?: readonly AwsPriceListItem[];
}

export interface AwsSimResourceRef {
  id: string;
  state: string;
}

/** Every live resource: what a test checks to prove nothing was left behind. */
export interface AwsSimResources {
  /** Import tasks still `active` or `deleting`. */
  importTasks: AwsSimResourceRef[];
  /** Registered AMIs. */
  images: AwsSimResourceRef[];
  /** Every snapshot with its state: pending, completed or error (an errored one stays until deleted). */
  snapshots: AwsSimResourceRef[];
  /** Instances not yet `terminated`. */
  instances: AwsSimResourceRef[];
  /** Export tasks still `active` or `cancelling`. */
  exportTasks: AwsSimResourceRef[];
}

export interface AwsSimCall {
  action: string;
  at: number;
  /** The error code answered, if any. */
  error?: string;
}

export interface AwsSimulator {
  url: string;
  port: number;
  close(): Promise<void>;
  setFaults(f: AwsSimFaults): void;
  resources(): AwsSimResources;
  calls: ReadonlyArray<AwsSimCall>;
  /** The bytes of a snapshot or of an instance's root volume. */
  readDisk(kind: 'snapshot' | 'instance', id: string): Promise<DiskStream>;
  /**
   * Writes `data` at `offset` into a live instance's root volume, standing in for the guest: the
   * 512 KiB blocks it touches are what the volume's next CreateSnapshot records as changed.
   */
  writeDisk(instanceId: string, offset: number, data: Buffer): Promise<void>;
}

const HANDLERS: Record<string, Handler> = {
  ImportImage: importImage,
  DescribeImportImageTasks: describeImportImageTasks,
  CancelImportTask: cancelImportTask,
  DescribeImages: describeImages,
  DeregisterImage: deregisterImage,
  DescribeSnapshots: describeSnapshots,
  DeleteSnapshot: deleteSnapshot,
  RunInstances: runInstances,
  DescribeInstances: describeInstances,
  StartInstances: startInstances,
  StopInstances: stopInstances,
  TerminateInstances: terminateInstances,
  CreateInstanceExportTask: createInstanceExportTask,
  DescribeExportTasks: describeExportTasks,
  CancelExportTask: cancelExportTask,
  CreateTags: createTags,
  CreateSnapshot: createSnapshot,
  RegisterImage: registerImage,
  DescribeInstanceTypes: describeInstanceTypes,
};

const MAX_BODY = 1024 * 1024;

function loadState(file: string): SimState {
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as SimState;
    if (s.version !== 1) throw new Error(`unsupported state version ${String(s.version)}`);
    return { ...emptyState(), ...s };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
    throw err;
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Ec2Error('RequestEntityTooLarge', 'Request body too large', 413));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startAwsSimulator(opts: AwsSimulatorOptions): Promise<AwsSimulator> {
  const stateDir = opts.stateDir;
  const tmpDir = join(stateDir, 'tmp');
  mkdirSync(tmpDir, { recursive: true });
  rmSync(tmpDir, { recursive: true, force: true });
  mkdirSync(tmpDir, { recursive: true });
  const stateFile = join(stateDir, 'state.json');
  const state = loadState(stateFile);
  const disks = new DiskStore(join(stateDir, 'disks'));
  await disks.init();

  let faults: AwsSimFaults = structuredClone(opts.faults ?? {});
  const calls: AwsSimCall[] = [];
  const work = new Map<string, { controller: AbortController; done: Promise<void> }>();
  const progress = new Map<string, number>();
  let closed = false;

  const ctx: SimContext = {
    state,
    disks,
    timing: resolveTiming(opts.timing),
    s3: opts.s3,
    region: opts.region ?? 'us-east-1',
    accountId: opts.accountId ?? '123456789012',
    tmpDir,
    progress,
    now: () => Date.now(),
    save() {
      const tmp = `${stateFile}.tmp`;
      writeFileSync(tmp, JSON.stringify(state));
      renameSync(tmp, stateFile);
    },
    spawn(key, fn) {
      if (closed || work.has(key)) return;
      const controller = new AbortController();
      const done = fn(controller.signal)
        .catch((err: unknown) => {
          // work functions record their own failures; this is a bug guard, not a path
          console.error(`aws-sim: background work ${key} crashed`, err);
        })
        .finally(() => {
          work.delete(key);
          progress.delete(key);
        });
      work.set(key, { controller, done });
    },
    abort(key) {
      work.get(key)?.controller.abort(new Error('aborted'));
    },
    takeImportFailure() {
      const f = faults.failImport;
      if (!f) return undefined;
      faults = { ...faults, failImport: undefined };
      return f.message.startsWith('ClientError') ? f.message : `ClientError: ${f.message}`;
    },
  };

  function tick(): void {
    const a = tickImports(ctx);
    const b = tickInstances(ctx);
    const c = tickExports(ctx);
    const d = tickSnapshots(ctx);
    if (a || b || c || d) ctx.save();
  }

  function faultHits(rule: AwsSimFaultRule | undefined, action: string): boolean {
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

  function ebsFault(action: string): EbsError | undefined {
    if (faultHits(faults.throttle, action)) {
      return new EbsError('RequestThrottledException', 400, 'Request throttled.', 'ACCOUNT_THROTTLED');
    }
    if (faultHits(faults.serverError, action)) {
      const status = faults.serverError?.code === 'Unavailable' ? 503 : 500;
      return new EbsError('InternalServerException', status, 'An internal error has occurred.');
    }
    return undefined;
  }

  const priceList = opts.priceList ?? LIST_PRICE_SNAPSHOT.aws;
  const jsonOperations: Record<string, JsonOperation> = {
    'AWSPriceListService.GetProducts': (input) => getProducts(priceList, input),
  };

  function jsonFault(operation: string): JsonServiceError | undefined {
    if (faultHits(faults.throttle, operation))
      return new JsonServiceError('ThrottlingException', 'Rate exceeded');
    if (faultHits(faults.serverError, operation)) {
      return new JsonServiceError('InternalErrorException', 'An internal error has occurred.', 500);
    }
    return undefined;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = jsonTarget(req);
    if (target) {
      let body = '';
      try {
        body = await readBody(req);
      } catch {
        res.writeHead(413).end();
        return;
      }
      if (faults.latencyMs) await new Promise((r) => setTimeout(r, faults.latencyMs));
      await answerJson(target, jsonOperations, body, res, newRequestId(), {
        fault: jsonFault,
        record: (action, error) => calls.push({ action, at: Date.now(), ...(error ? { error } : {}) }),
      });
      return;
    }
    if (isEbsPath(new URL(req.url ?? '/', 'http://127.0.0.1').pathname)) {
      await handleEbs(ctx, req, res, {
        fault: ebsFault,
        latencyMs: () => faults.latencyMs ?? 0,
        record: (action, error) => calls.push({ action, at: Date.now(), ...(error ? { error } : {}) }),
        tick,
      });
      return;
    }
    const requestId = newRequestId();
    let action = '';
    const send = (status: number, body: string) => {
      res.writeHead(status, {
        'content-type': 'text/xml;charset=UTF-8',
        'content-length': Buffer.byteLength(body),
        'x-amzn-requestid': requestId,
      });
      res.end(body);
    };
    try {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const body = req.method === 'POST' ? await readBody(req) : '';
      const params = parseQuery(body.length ? body : url.search.slice(1));
      action = qStr(params, 'Action') ?? '';
      if (faults.latencyMs) await new Promise((r) => setTimeout(r, faults.latencyMs));
      if (!action) throw new Ec2Error('MissingAction', 'The request must contain the parameter Action');
      const handler = HANDLERS[action];
      if (!handler)
        throw new Ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`);
      if (faultHits(faults.throttle, action))
        throw new Ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503);
      if (faultHits(faults.serverError, action)) {
        if (faults.serverError?.code === 'Unavailable')
          throw new Ec2Error('Unavailable', "The server is overloaded and can't handle the request.", 503);
        throw new Ec2Error('InternalError', 'An internal error has occurred.', 500);
      }
      if (qBool(params, 'DryRun')) {
        throw new Ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
      }
      tick();
      const out = await handler(ctx, params);
      calls.push({ action, at: Date.now() });
      send(200, renderResponse(action, requestId, out));
    } catch (err) {
      const e =
        err instanceof Ec2Error
          ? err
          : new Ec2Error('InternalError', `An internal error has occurred. (${(err as Error).message})`, 500);
      if (!(err instanceof Ec2Error)) console.error('aws-sim: internal error', err);
      calls.push({ action: action || '(none)', at: Date.now(), error: e.code });
      send(e.status, renderError(e.code, e.message, requestId));
    }
  }

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  // work that was running when the previous simulator stopped starts over
  resumeImports(ctx);
  resumeExports(ctx);
  tick();
  ctx.save();

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    calls,
    setFaults(f) {
      faults = structuredClone(f);
    },
    resources() {
      tick();
      const ref = (id: string, s: string) => ({ id, state: s });
      return {
        importTasks: Object.values(state.importTasks)
          .map((t) => ({ t, status: isLiveImportTask(ctx, t) }))
          .filter((x) => x.status !== undefined)
          .map((x) => ref(x.t.id, x.status as string)),
        images: Object.values(state.images).map((i) => ref(i.id, 'available')),
        snapshots: Object.values(state.snapshots).map((s) => ref(s.id, snapshotState(s))),
        instances: Object.values(state.instances)
          .filter(isLiveInstance)
          .map((i) => ref(i.id, i.state)),
        exportTasks: Object.values(state.exportTasks)
          .filter((t) => t.finalState === undefined)
          .map((t) => ref(t.id, t.cancelRequestedAt !== undefined ? 'cancelling' : 'active')),
      };
    },
    async readDisk(kind, id) {
      tick();
      if (kind === 'snapshot') {
        if (!state.snapshots[id]) throw new Error(`aws-sim: no snapshot ${id}`);
        return disks.read(id);
      }
      const inst = state.instances[id];
      const root = inst?.volumes[0];
      if (!inst || !root || inst.state === 'terminated') throw new Error(`aws-sim: no live instance ${id}`);
      return disks.read(root.volumeId);
    },
    async writeDisk(instanceId, offset, data) {
      tick();
      await writeInstanceDisk(ctx, instanceId, offset, data);
    },
    async close() {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const w of work.values()) w.controller.abort(new Error('simulator closed'));
      await Promise.all([...work.values()].map((w) => w.done));
      ctx.save();
    },
  };
}
