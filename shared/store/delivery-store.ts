/**
 * The webhook outbox: one item per delivery of one event to one URL, kept in the partition of whose
 * URL it is (`pk = JOB#<id>`, `SCHEDULE#<id>` or `WEBHOOK#<id>`, `sk = DELIVERY#<deliveryId>`), so
 * a delivery log is one query of that partition. The body is
 * fixed when the event happens: every attempt (and a replay) sends the same bytes under the same
 * `webhook-id`. Writes are conditional on `version`, as for jobs.
 */
import { GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeliveryMissingError, DeliveryWriteConflictError } from './errors';
import { putIfVersion, updateVersioned } from './versioned';

/** Whose URL a delivery goes to: a job's or schedule's callback, or a tenant's endpoint (webhook-store.ts). */
export type DeliverySubject =
  { kind: 'job'; id: string } | { kind: 'schedule'; id: string } | { kind: 'webhook'; id: string };
export type DeliveryState = 'pending' | 'delivered' | 'failed' | 'gone' | 'refused';

export interface DeliveryAttempt {
  at: string;
  /** The receiver's HTTP status (absent: no answer: a timeout, a refused connection). */
  status?: number;
  /** Why the attempt failed, when it did. */
  error?: string;
  durationMs: number;
}

export interface Delivery {
  /** `msg_` + 26 base32 characters, sortable by time: the `webhook-id` of every attempt. */
  deliveryId: string;
  tenant: string;
  subject: DeliverySubject;
  /** The job or schedule the event is about (an endpoint's deliveries are about many). */
  about?: { jobId?: string; scheduleId?: string };
  url: string;
  /** e.g. `burstgate.job-state-changed`. */
  eventType: string;
  /** The JSON body, as sent. */
  body: string;
  createdAt: string;
  updatedAt: string;
  state: DeliveryState;
  attempts: DeliveryAttempt[];
  /** When the next attempt is due (pending only). */
  nextAttemptAt?: string;
  /** Attempts before the last replay: the retry schedule counts from there. */
  replayedAfter?: number;
  version: number;
}

const UPDATE_ATTEMPTS = 8;
const PARTITION = { job: 'JOB', schedule: 'SCHEDULE', webhook: 'WEBHOOK' } as const;
const partition = (s: DeliverySubject) => `${PARTITION[s.kind]}#${s.id}`;
const keyOf = (s: DeliverySubject, deliveryId: string) => ({
  pk: partition(s),
  sk: `DELIVERY#${deliveryId}`,
});
/** Most deliveries a log answers (newest first). */
const MAX_LOG = 200;

export class DeliveryStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async create(delivery: Delivery): Promise<void> {
    await this.ddb.send(
      new PutCommand({
        TableName: this.table,
        Item: { ...keyOf(delivery.subject, delivery.deliveryId), version: delivery.version, delivery },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async get(subject: DeliverySubject, deliveryId: string): Promise<Delivery> {
    const out = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: keyOf(subject, deliveryId), ConsistentRead: true }),
    );
    const found = (out.Item as { delivery: Delivery } | undefined)?.delivery;
    if (!found) throw new DeliveryMissingError(deliveryId);
    return found;
  }

  async update(
    subject: DeliverySubject,
    deliveryId: string,
    change: (d: Delivery) => void | false,
    now: Date,
  ): Promise<Delivery> {
    return updateVersioned({
      read: () => this.get(subject, deliveryId),
      write: (next, expected) =>
        putIfVersion(
          this.ddb,
          this.table,
          { ...keyOf(subject, deliveryId), version: next.version, delivery: next },
          expected,
        ),
      change,
      now,
      attempts: UPDATE_ATTEMPTS,
      conflict: () => new DeliveryWriteConflictError(deliveryId, UPDATE_ATTEMPTS),
    });
  }

  /** The deliveries about a job or schedule, newest first. */
  async listFor(subject: DeliverySubject): Promise<Delivery[]> {
    const out = await this.ddb.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :d)',
        ExpressionAttributeValues: { ':pk': partition(subject), ':d': 'DELIVERY#' },
        ScanIndexForward: false,
        Limit: MAX_LOG,
        ConsistentRead: true,
      }),
    );
    return ((out.Items as Array<{ delivery: Delivery }> | undefined) ?? []).map((i) => i.delivery);
  }
}
