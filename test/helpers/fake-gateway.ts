/**
 * A stand-in for the gateway's HTTP API and its presigned S3 URLs, just faithful enough to drive
 * the CLI: API Gateway's 401/403 bodies, problem+json errors, multipart upload with ETags, and a
 * job that moves one state further on every GET (no timers, so tests are deterministic). A job can
 * also be placed directly (`addJob`), with what its return publishes: a whole OVA or a delta, and
 * bytes that storage serves which may differ from what the gateway announces (tampering).
 *
 * Leases are the real gateway's: POST /offloads `lease` and PATCH /offloads/{id} are checked by the
 * same schema and the same leaseFor (window, merge, `returnBy: null`), against the fake's clock;
 * the plan is the real rule with a fixed return estimate (`returnEstimateSeconds`).
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import type { Gateway } from '../../shared/domain/gateway';
import type { JobLease, JobState, ReturnPlan } from '../../shared/domain/job';
import { LEASED_STATES, leaseFor } from '../../shared/domain/leases';
import { UpdateOffloadRequest, parseOrThrow, type LeaseRequest } from '../../shared/domain/requests';
import { GatewayError } from '../../shared/domain/errors';
import type { ClientJobView, JobDownload, JobTarget } from '../../shared/client/types';

type JobView = ClientJobView;

/** What a job's return publishes, and what storage then serves for it. */
export interface ReturnedArtifact {
  format: JobDownload['format'];
  /** The artifact as published: the view announces its size and SHA-256. */
  bytes: Buffer;
  diskSha256: string;
  baseDiskSha256?: string;
  matchesOriginal?: boolean;
  /** What a GET of the presigned URL answers, when it is not `bytes` (a damaged or swapped object). */
  served?: Buffer;
}

export interface AddJobOptions {
  vmName: string;
  target: JobTarget;
  state?: JobState;
  image?: Partial<JobView['image']>;
  returnAs?: ReturnedArtifact;
  /** The job's lease (default: the default lease from the fake's now); planned as the gateway does. */
  lease?: JobLease;
  /** More of the view (returnStartedAt, deadline, cancelledBy...), as is. */
  view?: Partial<JobView>;
}

export interface FakeGatewayOptions {
  apiKey: string;
  partSizeBytes?: number;
  /** Part numbers whose first PUT answers 500. */
  failPartsOnce?: number[];
  /** The offload fails during import. */
  failImport?: boolean;
  /** The cancel workflow gives up: the job stays `cancelling` with a `cleanup-incomplete` error. */
  cancelGivesUp?: boolean;
  /** The download serves bytes that differ from the announced SHA-256. */
  corruptDownload?: boolean;
  /** The gateway's clock, for leases (default: the real one). */
  now?: () => Date;
  /** The return estimate of every job, in seconds (default 1800). */
  returnEstimateSeconds?: number;
}

/** The real gateway's default lease. */
export const FAKE_DEFAULT_LEASE_SECONDS = 7 * 24 * 3600;

export interface FakeGateway {
  url: string;
  jobs: Map<string, FakeJob>;
  partAttempts: Map<string, number>;
  /** Places a job (no upload) with what its return publishes; returns its id. */
  addJob(opts: AddJobOptions): string;
  close(): Promise<void>;
}

export interface FakeJob {
  view: JobView;
  parts: Map<number, Buffer>;
  etags: Map<number, string>;
  /** States still to go through, one per GET. */
  pending: JobState[];
  image?: Buffer;
  returnAs?: ReturnedArtifact;
  /** GETs of the returned artifact's presigned URL. */
  downloads: number;
  /** POST /offloads/{id}/return calls accepted. */
  returnsStarted: number;
  /** The POST /offloads body that created it. */
  created?: unknown;
  /** PATCH /offloads/{id} bodies, as received (valid or not). */
  patches: unknown[];
}

const PROBLEMS = 'https://burstgate.dev/problems/';

/** A request body as JSON; what is not JSON is passed on as the text, for the schema to reject. */
function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString() || 'null') as unknown;
  } catch {
    return body.toString();
  }
}

function newJob(view: JobView): FakeJob {
  return {
    view,
    parts: new Map(),
    etags: new Map(),
    pending: [],
    downloads: 0,
    returnsStarted: 0,
    patches: [],
  };
}

export async function startFakeGateway(opts: FakeGatewayOptions): Promise<FakeGateway> {
  const partSize = opts.partSizeBytes ?? 64 * 1024;
  const jobs = new Map<string, FakeJob>();
  const partAttempts = new Map<string, number>();
  let seq = 0;
  let base = '';
  const now = opts.now ?? (() => new Date());
  const estimateSeconds = opts.returnEstimateSeconds ?? 1800;
  // leaseFor reads only the clock and the default lease of the gateway it is given
  const leaseGateway = {
    now,
    config: { defaultLeaseSeconds: FAKE_DEFAULT_LEASE_SECONDS },
  } as unknown as Gateway;

  /** The real planFor's rule, with the fixed estimate. */
  const planOf = (lease: JobLease): ReturnPlan => {
    const expiry: ReturnPlan = { startAt: lease.expiresAt, reason: 'lease-expires', action: lease.onExpiry };
    if (!lease.returnBy) return expiry;
    const withEstimate = { estimateSeconds, basis: `the fake's fixed estimate: ${estimateSeconds} s` };
    const start = new Date(Date.parse(lease.returnBy) - estimateSeconds * 1000).toISOString();
    return Date.parse(start) < Date.parse(lease.expiresAt)
      ? { startAt: start, reason: 'return-by', action: 'return', ...withEstimate }
      : { ...expiry, ...withEstimate };
  };
  const setLease = (view: JobView, lease: JobLease): void => {
    view.lease = lease;
    view.returnPlan = planOf(lease);
  };

  const send = (res: http.ServerResponse, status: number, body: unknown, type = 'application/json'): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const problem = (
    res: http.ServerResponse,
    status: number,
    slug: string,
    title: string,
    detail: string,
  ): void => send(res, status, { type: PROBLEMS + slug, title, status, detail }, 'application/problem+json');
  /** A GatewayError of the real code (a ValidationError, say) as the API's onError answers it. */
  const gatewayProblem = (res: http.ServerResponse, e: GatewayError): void =>
    send(
      res,
      e.status,
      {
        type: PROBLEMS + e.type,
        title: e.title,
        status: e.status,
        detail: e.detail,
        ...(e.errors ? { errors: e.errors } : {}),
      },
      'application/problem+json',
    );

  const advance = (job: FakeJob): void => {
    const next = job.pending.shift();
    if (!next) return;
    const stamp = new Date(Date.parse(job.view.updatedAt) + 1000).toISOString();
    const stepName: Partial<Record<JobState, string>> = {
      importing: 'inspect',
      launching: 'import',
      running: 'launch',
      failed: 'import',
      returned: 'export',
      cancelled: 'cleanup',
    };
    const name = stepName[next];
    if (name) {
      job.view.steps.push({
        name,
        outcome: next === 'failed' ? 'failed' : 'succeeded',
        startedAt: job.view.updatedAt,
        endedAt: stamp,
        durationMs: 1000,
        ...(next === 'failed' ? { detail: 'ClientError: Unsupported kernel version' } : {}),
      });
    }
    job.view.state = next;
    job.view.updatedAt = stamp;
    if (next === 'running') {
      job.view.cloud = { importTaskId: 'import-ami-0123', amiId: 'ami-0abc', instanceId: 'i-0123456789' };
    }
    if (next === 'failed') {
      job.view.error = {
        type: 'import-failed',
        title: 'The cloud rejected the image',
        detail: 'ClientError: Unsupported kernel version',
        step: 'import',
      };
    }
    if (next === 'returned') {
      publish(job);
      // leases run on the fake's clock, the steps on their own stamps
      const returnedAt = now().toISOString();
      const returnBy = job.view.lease?.returnBy;
      if (returnBy) {
        const marginSeconds = Math.round((Date.parse(returnBy) - Date.parse(returnedAt)) / 1000);
        job.view.deadline = { returnBy, returnedAt, met: marginSeconds >= 0, marginSeconds };
      }
      job.view.returnedAt = returnedAt;
    }
  };

  /** The download a returned job offers: its artifact when it has one, else the uploaded OVA. */
  const publish = (job: FakeJob): void => {
    const a = job.returnAs;
    if (a) {
      job.view.download = {
        url: `${base}/s3/${job.view.jobId}/${job.view.vmName}.${a.format === 'delta' ? 'bgdelta' : 'ova'}?X-Amz-Signature=secret`,
        expiresAt: '2099-01-01T00:00:00Z',
        format: a.format,
        sizeBytes: a.bytes.length,
        sha256: createHash('sha256').update(a.bytes).digest('hex'),
        diskSha256: a.diskSha256,
        ...(a.baseDiskSha256 !== undefined ? { baseDiskSha256: a.baseDiskSha256 } : {}),
        matchesOriginal: a.matchesOriginal ?? false,
      };
      return;
    }
    if (job.image) {
      const sha256 = createHash('sha256').update(job.image).digest('hex');
      job.view.download = {
        url: `${base}/s3/${job.view.jobId}/returned.ova?X-Amz-Signature=secret`,
        expiresAt: '2099-01-01T00:00:00Z',
        format: 'ova',
        sizeBytes: job.image.length,
        sha256,
        diskSha256: 'd'.repeat(64),
        matchesOriginal: true,
      };
    }
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', base);
      const path = url.pathname.split('/').filter(Boolean);

      // presigned "S3" URLs: no API key
      if (path[0] === 's3') {
        const job = jobs.get(path[1] ?? '');
        if (!job || !url.searchParams.get('X-Amz-Signature')) {
          res.writeHead(403, { 'content-type': 'application/xml' });
          res.end('<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
          return;
        }
        if (req.method === 'PUT') {
          const part = Number(path[2]);
          const key = `${job.view.jobId}/${part}`;
          const attempt = (partAttempts.get(key) ?? 0) + 1;
          partAttempts.set(key, attempt);
          if (attempt === 1 && opts.failPartsOnce?.includes(part)) {
            res.writeHead(500, { 'content-type': 'application/xml' });
            res.end('<Error><Code>InternalError</Code><Message>try again</Message></Error>');
            return;
          }
          const etag = `"${createHash('md5').update(body).digest('hex')}"`;
          job.parts.set(part, body);
          job.etags.set(part, etag);
          res.writeHead(200, { etag });
          res.end();
          return;
        }
        if (req.method === 'GET' && job.returnAs) {
          job.downloads++;
          const bytes = job.returnAs.served ?? job.returnAs.bytes;
          res.writeHead(200, { 'content-length': bytes.length, 'content-type': 'application/octet-stream' });
          res.end(bytes);
          return;
        }
        if (req.method === 'GET' && job.image) {
          job.downloads++;
          const bytes = Buffer.from(job.image);
          if (opts.corruptDownload) bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
          res.writeHead(200, { 'content-length': bytes.length, 'content-type': 'application/octet-stream' });
          res.end(bytes);
          return;
        }
        res.writeHead(404);
        res.end();
        return;
      }

      const auth = req.headers.authorization;
      if (!auth) return send(res, 401, { message: 'Unauthorized' });
      if (auth !== `Bearer ${opts.apiKey}`) return send(res, 403, { message: 'Forbidden' });
      if (path[0] !== 'offloads') return send(res, 404, { message: 'Not Found' });

      const id = path[1];
      const job = id ? jobs.get(id) : undefined;
      if (id && !job) {
        return problem(
          res,
          404,
          'job-not-found',
          'No such job',
          `No offload job with id '${id}' exists; list jobs with GET /offloads.`,
        );
      }
      const json = (): Record<string, unknown> =>
        JSON.parse(body.toString() || '{}') as Record<string, unknown>;

      if (req.method === 'POST' && !id) {
        const r = json() as {
          vmName: string;
          imageFormat: JobView['image']['format'];
          imageSizeBytes: number;
          imageSha256?: string;
          target: JobView['target'];
          lease?: unknown;
        };
        let lease: JobLease;
        try {
          const asked =
            r.lease === undefined
              ? undefined
              : parseOrThrow(UpdateOffloadRequest, { lease: r.lease }, 'the offload request').lease;
          lease = leaseFor(leaseGateway, asked, { plannedLaunch: now(), path: 'lease' });
        } catch (e) {
          if (e instanceof GatewayError) return gatewayProblem(res, e);
          throw e;
        }
        if (!req.headers['idempotency-key']) {
          return problem(
            res,
            400,
            'validation-failed',
            'The request is not valid',
            'the Idempotency-Key header is required',
          );
        }
        const jobId = `job-${String(++seq).padStart(26, '0')}`;
        const t0 = '2025-01-01T00:00:00.000Z';
        const view: JobView = {
          jobId,
          tenant: 'default',
          vmName: r.vmName,
          state: 'awaiting-upload',
          target: r.target,
          createdAt: t0,
          updatedAt: t0,
          image: {
            format: r.imageFormat,
            sizeBytes: r.imageSizeBytes,
            ...(r.imageSha256 ? { sha256: r.imageSha256 } : {}),
          },
          resources: [],
          steps: [],
          bytes: { uploaded: 0 },
          cloud: {},
          links: { self: `/offloads/${jobId}`, uploadComplete: `/offloads/${jobId}/upload-complete` },
        };
        setLease(view, lease);
        jobs.set(jobId, { ...newJob(view), created: r });
        const count = Math.max(1, Math.ceil(r.imageSizeBytes / partSize));
        return send(res, 202, {
          jobId,
          state: view.state,
          upload: {
            uploadId: `upload-${jobId}`,
            partSizeBytes: partSize,
            parts: Array.from({ length: count }, (_, i) => ({
              partNumber: i + 1,
              url: `${base}/s3/${jobId}/${i + 1}?X-Amz-Signature=secret`,
            })),
            expiresAt: '2099-01-01T00:00:00Z',
          },
          links: view.links,
        });
      }
      if (req.method === 'GET' && !id) {
        const state = url.searchParams.get('state');
        const items = [...jobs.values()].map((j) => j.view).filter((v) => !state || v.state === state);
        return send(res, 200, { items });
      }
      if (!job) return send(res, 404, { message: 'Not Found' });
      if (req.method === 'GET' && path.length === 2) {
        advance(job);
        return send(res, 200, job.view);
      }
      if (req.method === 'POST' && path[2] === 'upload-complete') {
        const { parts } = json() as { parts: Array<{ partNumber: number; etag: string }> };
        for (const p of parts) {
          if (job.etags.get(p.partNumber) !== p.etag) {
            return problem(
              res,
              400,
              'upload-incomplete',
              'The upload is not complete',
              `part ${p.partNumber}: wrong ETag`,
            );
          }
        }
        job.image = Buffer.concat(parts.map((p) => job.parts.get(p.partNumber)!));
        job.view.bytes.uploaded = job.image.length;
        job.view.state = 'inspecting';
        job.pending = opts.failImport
          ? ['inspecting', 'importing', 'failed']
          : ['inspecting', 'importing', 'launching', 'running'];
        return send(res, 202, { jobId: job.view.jobId, state: job.view.state });
      }
      if (req.method === 'POST' && path[2] === 'return') {
        if (job.view.state !== 'running') {
          return problem(
            res,
            409,
            'invalid-job-state',
            'The job is not in a state that allows this',
            `Cannot return job ${job.view.jobId}: it is '${job.view.state}'; this is allowed only when it is 'running' or 'return-failed'.`,
          );
        }
        job.view.state = 'returning';
        job.view.returnStartedAt = now().toISOString();
        job.view.returnStartedBy = 'api';
        delete job.view.returnPlan;
        job.returnsStarted++;
        job.pending = ['returning', 'returned'];
        return send(res, 202, { jobId: job.view.jobId, state: 'returning' });
      }
      if (req.method === 'PATCH' && path.length === 2) {
        const received = parseJson(body);
        job.patches.push(received);
        try {
          const patch = parseOrThrow(UpdateOffloadRequest, received, 'the offload update');
          if (!LEASED_STATES.has(job.view.state)) {
            return problem(
              res,
              409,
              'invalid-job-state',
              'The job is not in a state that allows this',
              `Cannot change the lease of job ${job.view.jobId}: it is '${job.view.state}'; this is allowed only when it is ${[
                ...LEASED_STATES,
              ]
                .map((s) => `'${s}'`)
                .join(' or ')}.`,
            );
          }
          const lease = leaseFor(leaseGateway, patch.lease as LeaseRequest, {
            plannedLaunch: now(),
            ...(job.view.lease ? { current: job.view.lease } : {}),
            path: 'lease',
          });
          setLease(job.view, lease);
          return send(res, 200, job.view);
        } catch (e) {
          if (e instanceof GatewayError) return gatewayProblem(res, e);
          throw e;
        }
      }
      if (req.method === 'DELETE') {
        job.view.state = 'cancelling';
        job.pending = opts.cancelGivesUp ? [] : ['cancelled'];
        if (opts.cancelGivesUp) {
          job.view.error = {
            type: 'cleanup-incomplete',
            title: 'The cancel could not remove everything the job created',
            detail: `snapshot snap-0123 is in use; DELETE /offloads/${job.view.jobId} again to retry`,
            step: 'cancel',
          };
        }
        return send(res, 202, { jobId: job.view.jobId, state: 'cancelling' });
      }
      return send(res, 404, { message: 'Not Found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;

  const addJob = (o: AddJobOptions): string => {
    const jobId = `job-${String(++seq).padStart(26, '0')}`;
    const t0 = '2025-01-01T00:00:00.000Z';
    const job = newJob({
      jobId,
      vmName: o.vmName,
      state: o.state ?? 'running',
      target: o.target,
      createdAt: t0,
      updatedAt: t0,
      image: { format: 'ova', sizeBytes: 1, ...o.image },
      resources: [],
      steps: [],
      bytes: { uploaded: o.image?.sizeBytes ?? 1 },
      cloud: {},
      links: { self: `/offloads/${jobId}` },
      ...o.view,
      tenant: o.view?.tenant ?? 'default',
    });
    if (o.returnAs) job.returnAs = o.returnAs;
    const lease = o.lease ?? leaseFor(leaseGateway, undefined, { plannedLaunch: now(), path: 'lease' });
    if (LEASED_STATES.has(job.view.state)) setLease(job.view, lease);
    else job.view.lease = lease;
    if (job.view.state === 'returned') publish(job);
    jobs.set(jobId, job);
    return jobId;
  };

  return {
    url: base,
    jobs,
    partAttempts,
    addJob,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
