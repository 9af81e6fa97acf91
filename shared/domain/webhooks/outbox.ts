/**
 * The webhook outbox. An event of a job or a schedule with a callback URL becomes a delivery item
 * (delivery-store.ts: the body fixed, `webhook-id` = the delivery id) and one execution of the
 * webhook delivery workflow, named after the delivery, which makes the attempts (deliveries.ts).
 * Writing the item and starting the execution are all a state change or an API call waits for:
 * the receiver's latency, failures and retries happen in that execution, never in them.
 */
import { StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { Logger } from '@aws-lambda-powertools/logger';
import { newJobId } from '../ids';
import type { Delivery, DeliveryStore, DeliverySubject } from '../../store/delivery-store';
import type { WebhookStore } from '../../store/webhook-store';

export interface OutboxEnv {
  deliveries: DeliveryStore;
  webhooks: WebhookStore;
  sfn: SFNClient;
  /** The webhook delivery state machine. */
  stateMachineArn: string;
  logger: Logger;
  now(): Date;
}

export interface OutgoingEvent {
  tenant: string;
  subject: DeliverySubject;
  url: string;
  about?: Delivery['about'];
  eventType: string;
  payload: Record<string, unknown>;
}

/**
 * An event of a job or schedule: to its own callback URL (when it has one) and to each of the
 * tenant's enabled endpoints that takes its type. Failures are logged, never thrown.
 */
export async function enqueueEvent(
  env: OutboxEnv,
  event: Omit<OutgoingEvent, 'url'> & { url: string | undefined },
): Promise<void> {
  if (event.url) await enqueueDelivery(env, { ...event, url: event.url });
  let endpoints;
  try {
    endpoints = await env.webhooks.listOwned(event.tenant);
  } catch (err) {
    env.logger.warn('could not read the tenant’s webhook endpoints', {
      tenant: event.tenant,
      error: err as Error,
    });
    return;
  }
  for (const w of endpoints) {
    if (w.state !== 'enabled' || !(w.events.includes('*') || w.events.includes(event.eventType))) continue;
    await enqueueDelivery(env, { ...event, subject: { kind: 'webhook', id: w.webhookId }, url: w.url });
  }
}

/** `msg_` + 26 base32 characters (time first): the webhook-id receivers deduplicate on. */
export const newDeliveryId = (now: Date): string => newJobId(now, 'msg').replace('msg-', 'msg_');

/**
 * Records the event's delivery and starts its workflow. A failure is logged, never thrown: a lost
 * notification must not fail a job or an API call. The item stays `pending` when the start failed,
 * and POST …/deliveries/{id}/replay sends it then.
 */
export async function enqueueDelivery(env: OutboxEnv, event: OutgoingEvent): Promise<Delivery | undefined> {
  const now = env.now();
  const delivery: Delivery = {
    deliveryId: newDeliveryId(now),
    tenant: event.tenant,
    subject: event.subject,
    ...(event.about ? { about: event.about } : {}),
    url: event.url,
    eventType: event.eventType,
    body: JSON.stringify({ type: event.eventType, timestamp: now.toISOString(), data: event.payload }),
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    state: 'pending',
    attempts: [],
    nextAttemptAt: now.toISOString(),
    version: 1,
  };
  const about = { [`${event.subject.kind}Id`]: event.subject.id, deliveryId: delivery.deliveryId };
  try {
    await env.deliveries.create(delivery);
  } catch (err) {
    env.logger.warn('could not record the webhook delivery', { ...about, error: err as Error });
    return undefined;
  }
  await startDelivery(env, delivery);
  return delivery;
}

/** Starts the delivery workflow of a recorded delivery (again, for a replay: a new execution name). */
export async function startDelivery(
  env: OutboxEnv,
  delivery: Delivery,
  name = delivery.deliveryId,
): Promise<void> {
  try {
    await env.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: env.stateMachineArn,
        name,
        input: JSON.stringify({ subject: delivery.subject, deliveryId: delivery.deliveryId }),
      }),
    );
  } catch (err) {
    env.logger.warn('could not start the webhook delivery', {
      deliveryId: delivery.deliveryId,
      error: err as Error,
    });
  }
}
