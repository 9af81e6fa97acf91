/**
 * A tenant's webhook endpoints in the jobs table: `pk = WEBHOOK#<id>`, `sk = WEBHOOK`, in GSI
 * `byOwner` under `WEBHOOKS#<tenant>` (every event of the tenant reads that one partition to find
 * its receivers). An endpoint's deliveries live in its partition too (delivery-store.ts). The
 * secrets are kept as given (HMAC needs them), in a table encrypted at rest; no view shows one.
 */
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { WebhookMissingError, WebhookWriteConflictError } from './errors';
import { BY_OWNER_INDEX } from './owner-index';
import { putIfVersion, updateVersioned } from './versioned';

export interface WebhookSecret {
  secret: string;
  createdAt: string;
  /** A rotated-out secret signs until then (the overlap), then not at all. */
  expiresAt?: string;
}

export interface WebhookEndpoint {
  webhookId: string;
  tenant: string;
  url: string;
  /** Event types it gets (`burstgate.job-state-changed`, …), or `*` for all. */
  events: string[];
  secrets: WebhookSecret[];
  state: 'enabled' | 'disabled';
  /** Why it was turned off (a 410 Gone from the receiver). */
  disabledReason?: string;
  createdAt: string;
  updatedAt: string;
  version: number;
}

const SK = 'WEBHOOK';
const UPDATE_ATTEMPTS = 8;
/** Most endpoints a tenant has (each event is sent to each): a bound on the fan-out. */
export const MAX_ENDPOINTS = 20;
const keyOf = (id: string) => ({ pk: `WEBHOOK#${id}`, sk: SK });
const itemOf = (w: WebhookEndpoint) => ({
  ...keyOf(w.webhookId),
  gsi2pk: `WEBHOOKS#${w.tenant}`,
  gsi2sk: `${w.createdAt}#${w.webhookId}`,
  version: w.version,
  webhook: w,
});

export class WebhookStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async create(w: WebhookEndpoint): Promise<void> {
    await this.ddb.send(
      new PutCommand({
        TableName: this.table,
        Item: itemOf(w),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async find(id: string): Promise<WebhookEndpoint | undefined> {
    const out = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: keyOf(id), ConsistentRead: true }),
    );
    return (out.Item as { webhook: WebhookEndpoint } | undefined)?.webhook;
  }

  async get(id: string): Promise<WebhookEndpoint> {
    const found = await this.find(id);
    if (!found) throw new WebhookMissingError(id);
    return found;
  }

  /** A tenant's endpoints, oldest first (at most MAX_ENDPOINTS are ever made). */
  async listOwned(tenant: string): Promise<WebhookEndpoint[]> {
    const out = await this.ddb.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: BY_OWNER_INDEX,
        KeyConditionExpression: 'gsi2pk = :owner',
        ExpressionAttributeValues: { ':owner': `WEBHOOKS#${tenant}` },
        Limit: MAX_ENDPOINTS * 2,
      }),
    );
    return ((out.Items as Array<{ webhook: WebhookEndpoint }> | undefined) ?? []).map((i) => i.webhook);
  }

  async update(
    id: string,
    change: (w: WebhookEndpoint) => void | false,
    now: Date,
  ): Promise<WebhookEndpoint> {
    return updateVersioned({
      read: () => this.get(id),
      write: (next, expected) => putIfVersion(this.ddb, this.table, itemOf(next), expected),
      change,
      now,
      attempts: UPDATE_ATTEMPTS,
      conflict: () => new WebhookWriteConflictError(id, UPDATE_ATTEMPTS),
    });
  }

  /** Removes the endpoint (its delivery items stay until the table's owner prunes them). */
  async delete(id: string): Promise<void> {
    await this.ddb.send(new DeleteCommand({ TableName: this.table, Key: keyOf(id) }));
  }
}
