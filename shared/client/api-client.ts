/**
 * The gateway's HTTP API, typed. One request per call (no hidden retries: the caller decides;
 * `followJob` tolerates transient failures while polling). Every failure is a
 * GatewayClientError whose message says what to do.
 */
import { JOB_STATES } from '../domain/job';
import { downloadBlockManifest } from './download';
import { GatewayClientError, describeCause, isNetworkError, redactUrl, type ProblemDetails } from './errors';
import type {
  BlockManifest,
  CreateOffloadRequest,
  CreatedOffload,
  JobState,
  JobStateAnswer,
  ImageCacheView,
  JobView,
  LaunchAnswer,
  LeaseRequest,
  CreateScheduleRequest,
  DeletedSchedule,
  PrestageUploadRequest,
  PrestagedUpload,
  PreviewRequest,
  Quote,
  QuoteRequest,
  BudgetView,
  SchedulePreview,
  ScheduleView,
  UpdateScheduleRequest,
  UploadedPart,
} from './types';

export interface GatewayClientOptions {
  /** The API's base URL, e.g. `http://127.0.0.1:4510` or `https://abc.execute-api.us-east-1.amazonaws.com/prod`. */
  baseUrl: string;
  apiKey: string;
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export class GatewayClient {
  readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(opts: GatewayClientOptions) {
    let base: URL;
    try {
      base = new URL(opts.baseUrl);
    } catch {
      throw new GatewayClientError(
        'protocol',
        `'${opts.baseUrl}' is not a gateway URL: pass --gateway http(s)://host[:port][/stage]`,
      );
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new GatewayClientError(
        'protocol',
        `'${opts.baseUrl}' is not an http(s) URL: pass --gateway http(s)://host[:port][/stage]`,
      );
    }
    base.search = '';
    base.hash = '';
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    this.baseUrl = base.toString();
    this.apiKey = opts.apiKey;
    this.fetchImpl = opts.fetch ?? globalThis.fetch;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** POST /offloads. The same key with the same body gets the same job back (safe to retry). */
  async createOffload(req: CreateOffloadRequest, idempotencyKey: string): Promise<CreatedOffload> {
    const body = await this.request('POST', 'offloads', {
      body: req,
      headers: { 'idempotency-key': idempotencyKey },
    });
    const created = expectJobAnswer<CreatedOffload>(body, 'POST /offloads');
    const up = created.upload as Partial<CreatedOffload['upload']> | undefined;
    if (!up) {
      throw new GatewayClientError(
        'protocol',
        `the gateway sent no upload URLs for job ${created.jobId} (it is '${created.state}'): ` +
          `this Idempotency-Key was used before and its upload is done; follow it with \`burstgate status ${created.jobId}\``,
      );
    }
    if (
      typeof up.partSizeBytes !== 'number' ||
      !(up.partSizeBytes > 0) ||
      !Array.isArray(up.parts) ||
      up.parts.length === 0 ||
      !up.parts.every((p) => Number.isInteger(p?.partNumber) && typeof p?.url === 'string')
    ) {
      throw protocolError('POST /offloads', 'its upload instructions are malformed', body);
    }
    return created;
  }

  /** POST /offloads/{id}/upload-complete. */
  async completeUpload(jobId: string, parts: UploadedPart[]): Promise<JobStateAnswer> {
    const body = await this.request('POST', `offloads/${enc(jobId)}/upload-complete`, { body: { parts } });
    return expectJobAnswer<JobStateAnswer>(body, 'POST /offloads/{id}/upload-complete');
  }

  /** GET /offloads/{id}. */
  async getOffload(jobId: string): Promise<JobView> {
    const body = await this.request('GET', `offloads/${enc(jobId)}`);
    return expectJobAnswer<JobView>(body, 'GET /offloads/{id}');
  }

  /** GET /offloads[?state=]: newest first. */
  /** GET /offloads: this key's tenant's jobs, newest first, page after page up to `max`. */
  async listOffloads(state?: JobState, max = LIST_MAX): Promise<JobView[]> {
    const items = await this.pages('offloads', state ? `state=${enc(state)}` : '', max);
    return items.map((item) => expectJobAnswer<JobView>(item, 'GET /offloads'));
  }

  /** Follows a listing's nextCursor until the last page or `max` items. */
  private async pages(path: string, query: string, max: number): Promise<unknown[]> {
    const items: unknown[] = [];
    let cursor: string | undefined;
    do {
      const params = [query, cursor ? `cursor=${enc(cursor)}` : ''].filter(Boolean).join('&');
      const body = await this.request('GET', params ? `${path}?${params}` : path);
      const page = (body as { items?: unknown; nextCursor?: unknown } | null) ?? {};
      if (!Array.isArray(page.items)) throw protocolError(`GET /${path}`, 'it has no items array', body);
      items.push(...(page.items as unknown[]));
      cursor = typeof page.nextCursor === 'string' && page.nextCursor ? page.nextCursor : undefined;
    } while (cursor && items.length < max);
    return items.slice(0, max);
  }

  /**
   * PATCH /offloads/{id}: a new lease (members left out keep their value; `returnBy: null` removes
   * it); answers the job as planned with it. Send absolute instants, so that a retry changes nothing.
   * A 400 `validation-failed` names the member (`lease.expiresAt`...); a 409 `invalid-job-state`
   * says the job is past its lease (returning, returned, failed, cancelled).
   */
  async updateLease(jobId: string, lease: LeaseRequest): Promise<JobView> {
    const body = await this.request('PATCH', `offloads/${enc(jobId)}`, { body: { lease } });
    return expectJobAnswer<JobView>(body, 'PATCH /offloads/{id}');
  }

  /** POST /offloads/{id}/return: stop → export → publish → clean up. */
  async startReturn(jobId: string): Promise<JobStateAnswer> {
    const body = await this.request('POST', `offloads/${enc(jobId)}/return`);
    return expectJobAnswer<JobStateAnswer>(body, 'POST /offloads/{id}/return');
  }

  /**
   * DELETE /offloads/{id}: stops the job; its cancel workflow removes everything it created. The
   * answer is `cancelling` (202) until that is done, `cancelled` (200) after.
   */
  async cancel(jobId: string): Promise<JobStateAnswer> {
    const body = await this.request('DELETE', `offloads/${enc(jobId)}`);
    return expectJobAnswer<JobStateAnswer>(body, 'DELETE /offloads/{id}');
  }

  /**
   * POST /offloads/{id}/launch: releases a held launch (`launch: "hold"`), or a timed one early. A
   * 409 `invalid-job-state` says the job has no launch waiting (launched already, or never held).
   */
  async launchOffload(jobId: string): Promise<LaunchAnswer> {
    const body = await this.request('POST', `offloads/${enc(jobId)}/launch`);
    return expectJobAnswer<LaunchAnswer>(body, 'POST /offloads/{id}/launch');
  }

  /**
   * POST /schedules: the same name with the same body again answers the schedule made the first
   * time (safe to retry); the same name with another body is a 409 `schedule-name-taken`.
   */
  async createSchedule(req: CreateScheduleRequest): Promise<ScheduleView> {
    const body = await this.request('POST', 'schedules', { body: req });
    return expectSchedule(body, 'POST /schedules');
  }

  /** GET /schedules: each with its next window. */
  /** GET /schedules: this key's tenant's schedules, page after page up to `max`. */
  async listSchedules(max = LIST_MAX): Promise<ScheduleView[]> {
    const items = await this.pages('schedules', '', max);
    return items.map((item) => expectSchedule(item, 'GET /schedules'));
  }

  /** GET /schedules/{id-or-name}[?count=]: the schedule, its next `count` windows (default 5), its history. */
  async getSchedule(ref: string, count?: number): Promise<ScheduleView> {
    const query = count !== undefined ? `?count=${count}` : '';
    const body = await this.request('GET', `schedules/${enc(ref)}${query}`);
    return expectSchedule(body, 'GET /schedules/{id}');
  }

  /** PATCH /schedules/{id-or-name}: pause (`state: "paused"`), resume (`"active"`) or change it. */
  async updateSchedule(ref: string, patch: UpdateScheduleRequest): Promise<ScheduleView> {
    const body = await this.request('PATCH', `schedules/${enc(ref)}`, { body: patch });
    return expectSchedule(body, 'PATCH /schedules/{id}');
  }

  /** DELETE /schedules/{id-or-name}: no more windows; jobs of windows not yet open are cancelled. */
  async deleteSchedule(ref: string): Promise<DeletedSchedule> {
    const body = (await this.request('DELETE', `schedules/${enc(ref)}`)) as Partial<DeletedSchedule> | null;
    if (!body || typeof body.scheduleId !== 'string' || !Array.isArray(body.cancelledJobs)) {
      throw protocolError('DELETE /schedules/{id}', 'no scheduleId and cancelledJobs', body);
    }
    return body as DeletedSchedule;
  }

  /** GET /budget (own) or GET /budgets/{tenant} (admin): the budget and the month so far. */
  async getBudget(tenant?: string): Promise<BudgetView> {
    const path = tenant === undefined ? 'budget' : `budgets/${encodeURIComponent(tenant)}`;
    const body = (await this.request('GET', path)) as Partial<BudgetView> | null;
    if (!body || typeof body.monthlyUsd !== 'number')
      throw protocolError(`GET /${path}`, 'it has no monthlyUsd', body);
    return body as BudgetView;
  }

  /** PUT /budgets/{tenant} (admin): a tenant's monthly budget. */
  async putBudget(
    tenant: string,
    budget: { monthlyUsd: number; mode?: 'hard' | 'soft'; thresholds?: number[] },
  ): Promise<BudgetView> {
    const path = `budgets/${encodeURIComponent(tenant)}`;
    const body = (await this.request('PUT', path, { body: budget })) as Partial<BudgetView> | null;
    if (!body || typeof body.monthlyUsd !== 'number')
      throw protocolError(`PUT /${path}`, 'it has no monthlyUsd', body);
    return body as BudgetView;
  }

  /** POST /quotes: ranked, priced options for a VM across the named regions (creates nothing). */
  async createQuote(req: QuoteRequest): Promise<Quote> {
    const body = (await this.request('POST', 'quotes', { body: req })) as Partial<Quote> | null;
    if (!body || !Array.isArray(body.options))
      throw protocolError('POST /quotes', 'it has no options array', body);
    return body as Quote;
  }

  /** GET /schedules/preview: the next openings of a cron expression in a zone (and closings, given a length). */
  async previewSchedule(q: PreviewRequest): Promise<SchedulePreview> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== undefined) query.set(k, String(v));
    const body = (await this.request(
      'GET',
      `schedules/preview?${query.toString()}`,
    )) as Partial<SchedulePreview> | null;
    if (!body || !Array.isArray(body.windows)) {
      throw protocolError('GET /schedules/preview', 'it has no windows array', body);
    }
    return body as SchedulePreview;
  }

  /**
   * POST /schedules/{id-or-name}/prestage: the job of an upload VM in the window being pre-staged,
   * with its upload (none once it is complete). A 409 `no-open-prestage` says no window is being
   * pre-staged now (its detail says when the next one is).
   */
  async prestageSchedule(ref: string, req: PrestageUploadRequest): Promise<PrestagedUpload> {
    const what = 'POST /schedules/{id}/prestage';
    const body = await this.request('POST', `schedules/${enc(ref)}/prestage`, { body: req });
    const answer = expectJobAnswer<PrestagedUpload>(body, what);
    if (typeof answer.window?.opensAt !== 'string') throw protocolError(what, 'no window', body);
    return answer;
  }

  /**
   * GET /image-cache/{region}/{vmName}: the VM's AWS direct image cache entry (the snapshot its next
   * direct offload in `region` builds on) with a presigned URL of its block manifest; `undefined`
   * when the gateway has no entry (a 404 `image-cache-entry-not-found`: the first direct offload
   * uploads the whole disk). Any other failure throws, a gateway without the route included.
   */
  async getImageCache(region: string, vmName: string): Promise<ImageCacheView | undefined> {
    const what = 'GET /image-cache/{region}/{vmName}';
    let body: unknown;
    try {
      body = await this.request('GET', `image-cache/${enc(region)}/${enc(vmName)}`);
    } catch (err) {
      if (
        err instanceof GatewayClientError &&
        err.kind === 'problem' &&
        err.status === 404 &&
        err.problemType === 'image-cache-entry-not-found'
      ) {
        return undefined;
      }
      throw err;
    }
    return expectImageCacheView(body, what);
  }

  /**
   * Downloads and checks the block manifest behind `url` (`ImageCacheView.manifest.url`, presigned:
   * no API key is sent): `{version: 1, blockBytes, capacity, blocks: {"<index>": "<base64 SHA-256>"}}`.
   */
  fetchBlockManifest(url: string, opts: { signal?: AbortSignal } = {}): Promise<BlockManifest> {
    return downloadBlockManifest(url, { idleTimeoutMs: this.timeoutMs, ...opts });
  }

  private async request(
    method: Method,
    path: string,
    opts: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<unknown> {
    const url = new URL(path, this.baseUrl).toString();
    const what = `${method} ${redactUrl(url)}`;
    const headers: Record<string, string> = {
      accept: 'application/json, application/problem+json',
      authorization: `Bearer ${this.apiKey}`,
      ...opts.headers,
    };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method,
        headers,
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'error',
      });
    } catch (err) {
      if ((err as { name?: string }).name === 'TimeoutError') {
        throw new GatewayClientError(
          'unreachable',
          `the gateway at ${this.origin()} did not answer ${what} within ${this.timeoutMs / 1000} s: ` +
            'is it overloaded or stopped? retry, or check `burstgate up`',
          { url: redactUrl(url), cause: err },
        );
      }
      if (isNetworkError(err)) {
        throw new GatewayClientError(
          'unreachable',
          `cannot reach the gateway at ${this.origin()} (${describeCause(err)}): is \`burstgate up\` running? ` +
            'otherwise pass --gateway or set BURSTGATE_GATEWAY',
          { url: redactUrl(url), cause: err },
        );
      }
      throw new GatewayClientError('unreachable', `${what} failed: ${describeCause(err)}`, {
        url: redactUrl(url),
        cause: err,
      });
    }

    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw new GatewayClientError(
        'unreachable',
        `the connection to ${this.origin()} broke while reading the answer to ${what} (${describeCause(err)}); retry`,
        { url: redactUrl(url), status: res.status, cause: err },
      );
    }
    const contentType = res.headers.get('content-type') ?? '';
    const json = parseJson(text);

    if (res.ok) {
      if (json === undefined) {
        throw new GatewayClientError(
          'protocol',
          `${what} answered ${res.status} with ${contentType || 'no content type'}, not JSON: ` +
            `is ${this.origin()} a burstgate gateway? (${snippet(text)})`,
          { url: redactUrl(url), status: res.status },
        );
      }
      return json;
    }

    const problem = asProblem(json, contentType, res.status);
    if (problem) {
      throw new GatewayClientError('problem', problemMessage(problem), {
        status: res.status,
        problem,
        url: redactUrl(url),
      });
    }
    if (res.status === 401) {
      throw new GatewayClientError(
        'unauthorized',
        `the gateway at ${this.origin()} got no API key (401 Unauthorized): check --api-key, BURSTGATE_API_KEY or .burstgate/api-key`,
        { status: 401, url: redactUrl(url) },
      );
    }
    if (res.status === 403) {
      throw new GatewayClientError(
        'forbidden',
        `the API key was rejected by ${this.origin()} (403 Forbidden): check --api-key, BURSTGATE_API_KEY or .burstgate/api-key`,
        { status: 403, url: redactUrl(url) },
      );
    }
    const gatewayMessage = (json as { message?: unknown } | undefined)?.message;
    const why = typeof gatewayMessage === 'string' ? gatewayMessage : snippet(text);
    const advice =
      res.status >= 500 || res.status === 429
        ? 'the gateway failed on its side; retry in a moment'
        : res.status === 404
          ? `no such route: is ${this.origin()} a burstgate gateway (with its stage path, if any)?`
          : 'the client and gateway disagree about the API; check both versions';
    throw new GatewayClientError('protocol', `${what} answered ${res.status} (${why}): ${advice}`, {
      status: res.status,
      url: redactUrl(url),
    });
  }

  private origin(): string {
    return this.baseUrl.replace(/\/$/, '');
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function snippet(text: string): string {
  const one = text.replace(/\s+/g, ' ').trim();
  if (!one) return 'empty body';
  return one.length > 120 ? `${one.slice(0, 117)}...` : one;
}

function asProblem(json: unknown, contentType: string, status: number): ProblemDetails | undefined {
  if (!json || typeof json !== 'object') return undefined;
  const p = json as Partial<ProblemDetails>;
  const isProblemType = /application\/problem\+json/i.test(contentType);
  if (!isProblemType && (typeof p.type !== 'string' || typeof p.title !== 'string')) return undefined;
  const problem: ProblemDetails = {
    type: typeof p.type === 'string' ? p.type : 'about:blank',
    title: typeof p.title === 'string' ? p.title : `HTTP ${status}`,
    status: typeof p.status === 'number' ? p.status : status,
  };
  if (typeof p.detail === 'string') problem.detail = p.detail;
  if (typeof p.instance === 'string') problem.instance = p.instance;
  if (Array.isArray(p.errors)) {
    problem.errors = p.errors
      .filter((e): e is { path: string; message: string } => !!e && typeof e === 'object')
      .map((e) => ({ path: String(e.path), message: String(e.message) }));
  }
  return problem;
}

function problemMessage(p: ProblemDetails): string {
  let msg = p.detail ? `${p.title}: ${p.detail}` : p.title;
  if (p.errors?.length && !(p.detail && p.errors.every((e) => p.detail!.includes(e.path)))) {
    msg += ` (${p.errors.map((e) => `${e.path}: ${e.message}`).join('; ')})`;
  }
  return msg;
}

function protocolError(what: string, why: string, body: unknown): GatewayClientError {
  return new GatewayClientError(
    'protocol',
    `the answer to ${what} is not what the API promises (${why}): ${snippet(JSON.stringify(body) ?? '')}; ` +
      'check that the client and gateway versions match',
  );
}

const STATES: ReadonlySet<string> = new Set(JOB_STATES);
/** Most items a listing call gathers across pages (the gateway pages by 100). */
const LIST_MAX = 1000;

function expectJobAnswer<T extends { jobId: string; state: JobState }>(body: unknown, what: string): T {
  const b = body as { jobId?: unknown; state?: unknown } | null;
  if (!b || typeof b !== 'object' || typeof b.jobId !== 'string') {
    throw protocolError(what, 'no jobId', body);
  }
  if (typeof b.state !== 'string' || !STATES.has(b.state)) {
    throw protocolError(what, `unknown state ${JSON.stringify(b.state)}`, body);
  }
  return body as T;
}

function expectSchedule(body: unknown, what: string): ScheduleView {
  const b = body as Partial<ScheduleView> | null;
  if (!b || typeof b !== 'object' || typeof b.scheduleId !== 'string' || typeof b.name !== 'string') {
    throw protocolError(what, 'no scheduleId and name', body);
  }
  if (!Array.isArray(b.next) || !Array.isArray(b.occurrences) || typeof b.window !== 'object') {
    throw protocolError(what, 'no window, next windows and occurrences', body);
  }
  return body as ScheduleView;
}

function expectImageCacheView(body: unknown, what: string): ImageCacheView {
  const b = body as Partial<ImageCacheView> | null;
  if (!b || typeof b !== 'object') throw protocolError(what, 'it is not an object', body);
  for (const field of ['vmName', 'region', 'snapshotId', 'diskSha256', 'jobId'] as const) {
    if (typeof b[field] !== 'string') throw protocolError(what, `no ${field}`, body);
  }
  for (const field of ['capacityBytes', 'blocks'] as const) {
    if (!Number.isSafeInteger(b[field]) || (b[field] as number) < 0) {
      throw protocolError(what, `no ${field} count`, body);
    }
  }
  if (typeof b.manifest?.url !== 'string') throw protocolError(what, 'no manifest URL', body);
  return body as ImageCacheView;
}
