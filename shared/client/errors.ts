/**
 * The one error family of the on-prem client, from the gateway's answers to the local files it is
 * given. `kind` says what went wrong in a way a caller can switch on; `message` says what happened
 * (and, usually, what to do about it) in one line, so a CLI can print it as is; `hint`, when set,
 * is the what-to-do for a second line.
 */

/** An RFC 9457 problem as the gateway sends it (`application/problem+json`). */
export interface ProblemDetails {
  /** `https://burstgate.dev/problems/<slug>` */
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: Array<{ path: string; message: string }>;
}

export const PROBLEM_TYPE_BASE = 'https://burstgate.dev/problems/';

export type GatewayClientErrorKind =
  /** The gateway (or a presigned URL's host) could not be reached: refused, reset, DNS, timeout. */
  | 'unreachable'
  /** 401: no API key reached the gateway. */
  | 'unauthorized'
  /** 403 from API Gateway: the API key was rejected. */
  | 'forbidden'
  /** The gateway answered with an RFC 9457 problem; see `problem`. */
  | 'problem'
  /** The answer was not what the API contract says (not JSON, missing fields, unexpected status). */
  | 'protocol'
  /** Uploading a part to, or downloading the image from, a presigned URL failed. */
  | 'transfer'
  /** Downloaded bytes (or the disk made from them) do not have the SHA-256 the gateway announced. */
  | 'integrity'
  /** The job came back as a delta and no base image (the one that was offloaded) was given. */
  | 'base-required'
  /** The base image given for a delta is not the disk that was offloaded (its content SHA-256 differs). */
  | 'wrong-base'
  /** A job did not reach the awaited state in the time allowed (it goes on regardless). */
  | 'timeout'
  /** No gateway URL or API key was given or found, or a file holding one cannot be read. */
  | 'config'
  /** A local image the command was given cannot be used: missing, a directory, unreadable, empty. */
  | 'image-file'
  /** Where a returned image is to be written cannot be: no such folder, not writable, taken. */
  | 'output-file'
  /** A schedule has no such VM to pre-stage, or its target cannot take what was asked (a delta). */
  | 'schedule-vm';

export interface GatewayClientErrorInit {
  status?: number;
  problem?: ProblemDetails;
  url?: string;
  /** What to do about it, when the message only says what happened. */
  hint?: string;
  cause?: unknown;
}

export class GatewayClientError extends Error {
  override readonly name = 'GatewayClientError';
  readonly kind: GatewayClientErrorKind;
  readonly status?: number;
  readonly problem?: ProblemDetails;
  /** The URL that was being requested (presigned query strings removed). */
  readonly url?: string;
  /** What to do about it (a CLI prints it on a line of its own). */
  readonly hint?: string;

  constructor(kind: GatewayClientErrorKind, message: string, init: GatewayClientErrorInit = {}) {
    super(message, init.cause !== undefined ? { cause: init.cause } : undefined);
    this.kind = kind;
    if (init.status !== undefined) this.status = init.status;
    if (init.problem !== undefined) this.problem = init.problem;
    if (init.url !== undefined) this.url = init.url;
    if (init.hint !== undefined) this.hint = init.hint;
  }

  /** The stable problem slug (`job-not-found`, `validation-failed`, ...) when kind is `problem`. */
  get problemType(): string | undefined {
    const t = this.problem?.type;
    if (!t) return undefined;
    return t.startsWith(PROBLEM_TYPE_BASE) ? t.slice(PROBLEM_TYPE_BASE.length) : t;
  }

  /** Worth trying again later: the gateway was unreachable or failed on its side. */
  get transient(): boolean {
    if (this.kind === 'unreachable') return true;
    if (this.kind === 'problem' || this.kind === 'protocol' || this.kind === 'transfer') {
      return this.status !== undefined && (this.status >= 500 || this.status === 429);
    }
    return false;
  }
}

/** Error codes of a connection that never got an answer (Node's and undici's). */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** The errno-style code of a network error, looking through `fetch failed` wrappers. */
export function networkErrorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return code;
    const name = (e as { name?: unknown }).name;
    if (name === 'TimeoutError') return 'ETIMEDOUT';
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** True for errors that mean "no answer came back" (as opposed to a bad answer or an abort). */
export function isNetworkError(err: unknown): boolean {
  if (networkErrorCode(err)) return true;
  // undici's fetch wraps every transport failure in `TypeError: fetch failed`
  return err instanceof TypeError && err.message === 'fetch failed';
}

export { redactUrl } from '../domain/egress';

/** `Error`'s message and the short code of its cause, for "... failed: <why>". */
export function describeCause(err: unknown): string {
  const code = networkErrorCode(err);
  let inner: unknown = err;
  while (inner && typeof inner === 'object' && (inner as { cause?: unknown }).cause) {
    inner = (inner as { cause?: unknown }).cause;
  }
  const msg = inner instanceof Error ? inner.message : String(inner);
  return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
}
