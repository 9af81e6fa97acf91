/**
 * A job's or schedule's callback URL: checked when it is given (a 400 naming the member), and
 * again at every delivery attempt (webhooks/deliveries.ts), which then connects to the very
 * address that was checked (egress.ts: a name that resolves elsewhere since, a DNS rebinding, is
 * caught there) and follows no redirect.
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { ValidationError } from './errors';
import {
  EgressRefusedError,
  STRICT_EGRESS,
  checkEgress,
  redactUrl,
  systemResolver,
  type CheckedTarget,
  type EgressPolicy,
  type Resolver,
} from './egress';

/** What the callbacks need of the deployment: its egress policy and a resolver (tests inject one). */
export interface CallbackEnv {
  policy: EgressPolicy | undefined;
  resolve: Resolver | undefined;
}

const check = (env: CallbackEnv, url: string): Promise<CheckedTarget> =>
  checkEgress(url, env.policy ?? STRICT_EGRESS, env.resolve ?? systemResolver);

/** Refuses a callback URL the gateway would not send to: a ValidationError naming `path`. */
export async function checkCallbackUrl(env: CallbackEnv, url: string, path: string): Promise<void> {
  try {
    await check(env, url);
  } catch (err) {
    if (!(err instanceof EgressRefusedError)) throw err;
    throw new ValidationError(
      `${path}: the gateway will not send callbacks to ${redactUrl(url)}: ${err.message}`,
      [{ path, message: err.message }],
    );
  }
}

/** The URL checked again, as a delivery attempt connects to it; EgressRefusedError when it may not. */
export const checkDeliveryTarget = check;

/** What a receiver answered: its status and, when it sent one, its Retry-After. */
export interface ReceiverAnswer {
  status: number;
  retryAfter?: string;
}

/** A lookup that answers `address` for whatever host is asked: the connection goes where the check looked. */
export function pinnedLookup(address: string, family: 4 | 6): LookupFunction {
  return (_host, opts, done) => {
    if ((opts as { all?: boolean }).all) {
      (done as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [
        { address, family },
      ]);
    } else done(null, address, family);
  };
}

/**
 * One POST to the checked address (the URL's host stays the Host header and the TLS name), with
 * `headers`, waiting `timeoutMs` at most for the answer. Redirects are answers, not followed.
 */
export function postChecked(
  target: CheckedTarget,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<ReceiverAnswer> {
  const { address, family } = target;
  const lookup = pinnedLookup(address, family);
  const send = target.url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = send(target.url, {
      method: 'POST',
      headers: {
        ...headers,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'user-agent': 'burstgate',
      },
      lookup,
      timeout: timeoutMs,
    });
    // the whole exchange, not only an idle socket: a receiver that trickles bytes is cut off too
    const timer = setTimeout(
      () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    req.on('close', () => clearTimeout(timer));
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume(); // the body is not read: a redirect is not followed, an answer's content unused
      const retryAfter = res.headers['retry-after'];
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, ...(typeof retryAfter === 'string' ? { retryAfter } : {}) }),
      );
      res.on('error', reject);
    });
    req.end(body);
  });
}
