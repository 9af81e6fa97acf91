/**
 * One attempt of a webhook delivery, as the delivery workflow's step makes it: the URL checked
 * again (a name that resolves to a refused address by now is `refused`, never retried), one POST
 * of the recorded body with the Standard Webhooks headers, signed with the job's or schedule's
 * callback secret, 15 s at most, no redirect followed. A 2xx is `delivered`; a 410 is `gone` and
 * turns the URL's deliveries off; anything else is retried on the spec's schedule (5 s, 5 min,
 * 30 min, 2 h, 5 h, 10 h, 10 h after the first, each ±10 % jitter, never sooner than the
 * receiver's Retry-After) and is `failed` after the eighth attempt. The workflow waits between
 * attempts in a Wait state: no Lambda runs while it waits.
 */
import { EgressRefusedError, redactUrl } from '../egress';
import { checkDeliveryTarget, postChecked, type ReceiverAnswer } from '../callbacks';
import { updateJob, type Gateway } from '../gateway';
import { webhookHeaders } from './signing';
import type { Delivery, DeliveryAttempt, DeliverySubject } from '../../store/delivery-store';

/** Seconds between attempts (the first is immediate): the Standard Webhooks schedule. */
export const RETRY_SECONDS = [5, 300, 1800, 7200, 18000, 36000, 36000] as const;
export const DELIVERY_TIMEOUT_MS = 15_000;
/** Longest wait a receiver's Retry-After may ask for (one day). */
const MAX_RETRY_AFTER_SECONDS = 86_400;
const JITTER = 0.1;

/** What the workflow does next: stop, or wait this long and attempt again. */
export type NextStep = { done: true; state: Delivery['state'] } | { done: false; waitSeconds: number };

/** A Retry-After value (seconds, or an HTTP date) as seconds from now; undefined when absent or unreadable. */
export function retryAfterSeconds(value: string | undefined, now: Date): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed), MAX_RETRY_AFTER_SECONDS);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, Math.ceil((at - now.getTime()) / 1000)), MAX_RETRY_AFTER_SECONDS);
}

/** The wait before the next attempt after `made` attempts; undefined when none is left. */
export function retryDelay(
  made: number,
  retryAfter: number | undefined,
  random: () => number,
): number | undefined {
  const base = RETRY_SECONDS[made - 1];
  if (base === undefined) return undefined;
  const jittered = Math.max(1, Math.round(base * (1 - JITTER + 2 * JITTER * random())));
  return Math.max(jittered, retryAfter ?? 0);
}

/** The secrets a subject's deliveries are signed with (a window's job signs with its schedule's). */
async function secretsOf(gw: Gateway, subject: DeliverySubject): Promise<string[]> {
  if (subject.kind === 'webhook') {
    const now = gw.now().getTime();
    const endpoint = await gw.webhooks.find(subject.id);
    return (endpoint?.secrets ?? [])
      .filter((s) => !s.expiresAt || Date.parse(s.expiresAt) > now)
      .map((s) => s.secret);
  }
  if (subject.kind === 'schedule') {
    const schedule = await gw.schedules.find(subject.id);
    return schedule?.callbackSecret ? [schedule.callbackSecret] : [];
  }
  const job = await gw.store.find(subject.id);
  if (job?.callbackSecret) return [job.callbackSecret];
  const schedule = job?.window ? await gw.schedules.find(job.window.scheduleId) : undefined;
  return schedule?.callbackSecret ? [schedule.callbackSecret] : [];
}

/** One attempt of the delivery, recorded on it; what the workflow does next. */
export async function attemptDelivery(
  gw: Gateway,
  ref: { subject: DeliverySubject; deliveryId: string },
  random: () => number = Math.random,
): Promise<NextStep> {
  const delivery = await gw.deliveries.get(ref.subject, ref.deliveryId);
  if (delivery.state !== 'pending') return { done: true, state: delivery.state };
  const started = gw.now();
  const about = { deliveryId: delivery.deliveryId, url: redactUrl(delivery.url) };
  let answer: ReceiverAnswer | undefined;
  let error: string | undefined;
  let refused = false;
  try {
    const target = await checkDeliveryTarget(
      { policy: gw.config.callbacks, resolve: gw.resolve },
      delivery.url,
    );
    const headers = webhookHeaders(
      await secretsOf(gw, ref.subject),
      delivery.deliveryId,
      started,
      delivery.body,
    );
    answer = await postChecked(target, delivery.body, headers, DELIVERY_TIMEOUT_MS);
  } catch (err) {
    refused = err instanceof EgressRefusedError;
    error = (err as Error).message;
  }
  const attempt: DeliveryAttempt = {
    at: started.toISOString(),
    ...(answer ? { status: answer.status } : {}),
    ...(error ? { error } : {}),
    durationMs: gw.now().getTime() - started.getTime(),
  };
  const status = answer?.status ?? 0;
  const ok = status >= 200 && status < 300;
  const made = delivery.attempts.length - (delivery.replayedAfter ?? 0) + 1;
  const wait =
    ok || refused || status === 410
      ? undefined
      : retryDelay(made, retryAfterSeconds(answer?.retryAfter, started), random);
  const state: Delivery['state'] = ok
    ? 'delivered'
    : refused
      ? 'refused'
      : status === 410
        ? 'gone'
        : wait === undefined
          ? 'failed'
          : 'pending';
  // turned off before the attempt is recorded: whoever sees `gone` sees no more deliveries queued
  if (state === 'gone') await turnOff(gw, ref.subject);
  await gw.deliveries.update(
    ref.subject,
    ref.deliveryId,
    (d) => {
      d.attempts.push(attempt);
      d.state = state;
      if (wait === undefined) delete d.nextAttemptAt;
      else d.nextAttemptAt = new Date(started.getTime() + wait * 1000).toISOString();
    },
    gw.now(),
  );
  if (!ok)
    gw.logger.info('webhook delivery attempt failed', { ...about, attempt: made, status, error, state });
  return wait === undefined ? { done: true, state } : { done: false, waitSeconds: wait };
}

/** A 410 Gone: the receiver is gone for good; the job's (or schedule's) later events are not sent. */
async function turnOff(gw: Gateway, subject: DeliverySubject): Promise<void> {
  const at = gw.now().toISOString();
  if (subject.kind === 'webhook') {
    await gw.webhooks
      .update(
        subject.id,
        (w) => {
          if (w.state === 'disabled') return false;
          w.state = 'disabled';
          w.disabledReason = `the receiver answered 410 Gone at ${at}`;
        },
        gw.now(),
      )
      .catch((err: unknown) => {
        if ((err as Error).name !== 'WebhookMissing') throw err; // deleted meanwhile: nothing to turn off
      });
  } else if (subject.kind === 'job') {
    await updateJob(gw, subject.id, (j) => {
      if (j.callbackDisabledAt) return false;
      j.callbackDisabledAt = at;
    });
  } else {
    await gw.schedules.update(
      subject.id,
      (s) => {
        if (s.callbackDisabledAt) return false;
        s.callbackDisabledAt = at;
      },
      gw.now(),
    );
  }
  gw.logger.warn('the webhook receiver answered 410 Gone: no more deliveries to it', {
    [`${subject.kind}Id`]: subject.id,
  });
}

/**
 * The delivery log of a job, schedule or endpoint, as the API shows it (newest first; bodies left
 * out, URLs redacted). A job's log names the endpoint of each delivery that went to one.
 */
export async function deliveryLog(gw: Gateway, subject: DeliverySubject) {
  const deliveries = await gw.deliveries.listFor(subject);
  return deliveries.map((d) => ({
    deliveryId: d.deliveryId,
    ...(d.subject.kind === 'webhook' && subject.kind !== 'webhook' ? { webhookId: d.subject.id } : {}),
    eventType: d.eventType,
    url: redactUrl(d.url),
    state: d.state,
    createdAt: d.createdAt,
    attempts: d.attempts,
    ...(d.nextAttemptAt ? { nextAttemptAt: d.nextAttemptAt } : {}),
  }));
}
