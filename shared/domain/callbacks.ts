/**
 * A job's or schedule's callback URL: checked when it is given (a 400 naming the member), and
 * again at every delivery, which then connects to the very address that was checked (egress.ts:
 * a name that resolves elsewhere since, a DNS rebinding, is caught there) and follows no redirect.
 * One POST per event, 5 s at most; a failure is logged, never thrown: a lost callback must not
 * fail a job.
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Logger } from '@aws-lambda-powertools/logger';
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

const TIMEOUT_MS = 5000;

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

/** POSTs an event to a callback URL, checked again first; failures are logged. */
export async function notifyCallback(
  env: CallbackEnv,
  logger: Logger,
  url: string,
  body: Record<string, unknown>,
  about: Record<string, string>,
): Promise<void> {
  const to = redactUrl(url);
  let target: CheckedTarget;
  try {
    target = await check(env, url);
  } catch (err) {
    logger.warn('refused to deliver the callback', { ...about, url: to, error: err as Error });
    return;
  }
  try {
    const status = await post(target, JSON.stringify(body));
    if (status < 200 || status > 299)
      logger.warn('the callback answered with an error', { ...about, url: to, status });
  } catch (err) {
    logger.warn('could not deliver the callback', { ...about, url: to, error: err as Error });
  }
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

/** One POST to the checked address (the URL's host stays the Host header and the TLS name). */
function post(target: CheckedTarget, body: string): Promise<number> {
  const { address, family } = target;
  const lookup = pinnedLookup(address, family);
  const send = target.url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = send(target.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'user-agent': 'burstgate',
      },
      lookup,
      timeout: TIMEOUT_MS,
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume(); // the body is not read: a redirect is not followed, an answer's content unused
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.end(body);
  });
}
