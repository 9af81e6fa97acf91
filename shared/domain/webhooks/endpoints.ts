/**
 * The /webhooks API as plain functions: a tenant's endpoints (at most MAX_ENDPOINTS), each with
 * the event types it takes and a Standard Webhooks secret shown once; rotation makes a new secret
 * and keeps the old one signing for an overlap, so receivers can switch without losing a
 * delivery; an endpoint's delivery log, and the replay of one delivery. Every URL passes the
 * callback check when given (egress.ts) and again at each attempt.
 */
import { z } from 'zod';
import { ValidationError, WebhookNotFoundError } from '../errors';
import { JOB_EVENTS, WINDOW_EVENTS, type Gateway } from '../gateway';
import { newJobId } from '../ids';
import { redactUrl } from '../egress';
import { mayAccess, type Access, type Caller } from '../tenants';
import { MAX_ENDPOINTS, type WebhookEndpoint } from '../../store/webhook-store';
import type { Delivery, DeliverySubject } from '../../store/delivery-store';
import { newSecret } from './signing';
import { startDelivery } from './outbox';

/** Every event type a receiver may ask for. */
export const EVENT_TYPES = [
  'burstgate.job-state-changed',
  ...Object.keys(JOB_EVENTS).map((k) => `burstgate.${k}`),
  ...Object.keys(WINDOW_EVENTS).map((k) => `burstgate.${k}`),
] as const;
/** How long a rotated-out secret keeps signing by default (a day). */
export const DEFAULT_OVERLAP_SECONDS = 86_400;

export const CreateWebhookRequest = z
  .object({
    url: z.string().min(1).max(2048),
    events: z
      .array(
        z
          .string()
          .refine((e) => e === '*' || (EVENT_TYPES as readonly string[]).includes(e), 'an event type'),
      )
      .min(1)
      .max(EVENT_TYPES.length),
  })
  .strict();
export type CreateWebhookRequest = z.infer<typeof CreateWebhookRequest>;
export const RotateSecretRequest = z
  .object({
    overlapSeconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 86_400)
      .optional(),
  })
  .strict();
export const WebhookId = z.string().regex(/^whk-[0-9a-z]{26}$/, 'a webhook id (whk-…)');
export const DeliveryId = z.string().regex(/^msg_[0-9a-z]{26}$/, 'a delivery id (msg_…)');

export function viewWebhook(w: WebhookEndpoint) {
  return {
    webhookId: w.webhookId,
    tenant: w.tenant,
    url: redactUrl(w.url),
    events: w.events,
    state: w.state,
    ...(w.disabledReason ? { disabledReason: w.disabledReason } : {}),
    // when each secret was made and, once rotated out, until when it signs; never the secret
    secrets: w.secrets.map((s) => ({
      createdAt: s.createdAt,
      ...(s.expiresAt ? { expiresAt: s.expiresAt } : {}),
    })),
    createdAt: w.createdAt,
    updatedAt: w.updatedAt,
    links: { self: `/webhooks/${w.webhookId}`, deliveries: `/webhooks/${w.webhookId}/deliveries` },
  };
}

/** The caller's endpoint; another tenant's answers 404 exactly as a missing one. */
export async function ownedWebhook(
  gw: Gateway,
  caller: Caller,
  id: string,
  access: Access,
): Promise<WebhookEndpoint> {
  const w = await gw.webhooks.find(id);
  if (!w || !mayAccess(caller, w.tenant, access, gw.logger, { webhookId: id }))
    throw new WebhookNotFoundError(id);
  return w;
}

/** POST /webhooks: the endpoint and its secret (the only time it is shown). */
export async function createWebhook(
  gw: Gateway,
  tenant: string,
  req: CreateWebhookRequest,
): Promise<{ webhook: WebhookEndpoint; secret: string }> {
  await gw.checkCallback(req.url, 'url');
  const existing = await gw.webhooks.listOwned(tenant);
  if (existing.length >= MAX_ENDPOINTS) {
    throw new ValidationError(
      `tenant '${tenant}' has ${existing.length} webhook endpoints, the most it may have; delete one first`,
      [{ path: 'url', message: `at most ${MAX_ENDPOINTS} endpoints per tenant` }],
    );
  }
  const now = gw.now().toISOString();
  const secret = newSecret();
  const webhook: WebhookEndpoint = {
    webhookId: newJobId(gw.now(), 'whk'),
    tenant,
    url: req.url,
    events: [...new Set(req.events)],
    secrets: [{ secret, createdAt: now }],
    state: 'enabled',
    createdAt: now,
    updatedAt: now,
    version: 1,
  };
  await gw.webhooks.create(webhook);
  return { webhook, secret };
}

/**
 * POST /webhooks/{id}/rotate-secret: a new secret signs from now on, beside the current one until
 * `overlapSeconds` have passed; secrets past their overlap are dropped.
 */
export async function rotateSecret(
  gw: Gateway,
  w: WebhookEndpoint,
  overlapSeconds = DEFAULT_OVERLAP_SECONDS,
): Promise<{ webhook: WebhookEndpoint; secret: string }> {
  const now = gw.now();
  const secret = newSecret();
  const until = new Date(now.getTime() + overlapSeconds * 1000).toISOString();
  const webhook = await gw.webhooks.update(
    w.webhookId,
    (x) => {
      const live = x.secrets.filter((s) => !s.expiresAt || Date.parse(s.expiresAt) > now.getTime());
      x.secrets = [
        { secret, createdAt: now.toISOString() },
        ...live.map((s) => ({ ...s, expiresAt: s.expiresAt ?? until })),
      ];
    },
    now,
  );
  return { webhook, secret };
}

/**
 * POST /webhooks/{id}/deliveries/{deliveryId}/replay: the same body under the same webhook-id
 * again, with a fresh retry schedule (a receiver deduplicating on webhook-id takes it once).
 */
export async function replayDelivery(
  gw: Gateway,
  subject: DeliverySubject,
  deliveryId: string,
): Promise<Delivery> {
  const now = gw.now();
  const delivery = await gw.deliveries.update(
    subject,
    deliveryId,
    (d) => {
      if (d.state === 'pending') return false; // under way already
      d.state = 'pending';
      d.replayedAfter = d.attempts.length;
      d.nextAttemptAt = now.toISOString();
    },
    now,
  );
  await startDelivery(gw.outbox, delivery, `${deliveryId}-r${delivery.attempts.length}`);
  return delivery;
}
