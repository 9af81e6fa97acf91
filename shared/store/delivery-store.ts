/**
 * The webhook outbox: one item per delivery of one event to one URL, kept in the partition of whose
 * URL it is (`pk = JOB#<id>`, `SCHEDULE#<id>` or `WEBHOOK#<id>`, `sk = DELIVERY#<deliveryId>`), so
 * a delivery log is one query of that partition. An endpoint's delivery about a job or schedule
 * also leaves a reference in that job's (schedule's) partition, under the same sort key, so their
 * log lists it in its place among their own deliveries. The body is
 * fixed when the event happens: every attempt (and a replay) sends the same bytes under the same
 * `webhook-id`. Writes are conditional on `version`, as for jobs.
 */
import {
  BatchGetCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
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
/** BatchGetItem's most keys per call; and how often the keys it left unprocessed are asked again. */
const BATCH_KEYS = 100;
const BATCH_ROUNDS = 5;

type Key = ReturnType<typeof keyOf>;
/** A log item: a delivery of this partition's URL, or a reference to an endpoint's delivery about it. */
type LogItem = Key & { delivery?: Delivery; ref?: DeliverySubject };

/** The job and schedule an endpoint's delivery is about, whose logs list it too. */
function referrers(d: Delivery): DeliverySubject[] {
  if (d.subject.kind !== 'webhook') return [];
  return [
    ...(d.about?.jobId ? [{ kind: 'job' as const, id: d.about.jobId }] : []),
    ...(d.about?.scheduleId ? [{ kind: 'schedule' as const, id: d.about.scheduleId }] : []),
  ];
}

export class DeliveryStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async create(delivery: Delivery): Promise<void> {
    // The references first: one left without its delivery (the put below failed) is skipped by
    // the log, while a delivery without its reference would be missing from the job's log.
    for (const about of referrers(delivery)) {
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...keyOf(about, delivery.deliveryId), ref: delivery.subject },
        }),
      );
    }
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

  /**
   * The deliveries of a partition, newest first: to its own URL and, for a job or schedule, the
   * endpoints' deliveries about it (read through their references).
   */
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
    const items = (out.Items as LogItem[] | undefined) ?? [];
    const referenced = await this.getMany(
      items.flatMap((i) => (i.ref ? [keyOf(i.ref, i.sk.slice('DELIVERY#'.length))] : [])),
    );
    return items.flatMap((i) => {
      const found = i.delivery ?? (i.ref ? referenced.get(`${partition(i.ref)} ${i.sk}`) : undefined);
      return found ? [found] : [];
    });
  }

  /** Deliveries by key (`pk sk` → delivery); a key with no item is left out. */
  private async getMany(keys: Key[]): Promise<Map<string, Delivery>> {
    const found = new Map<string, Delivery>();
    for (let start = 0; start < keys.length; start += BATCH_KEYS) {
      let pending: Key[] = keys.slice(start, start + BATCH_KEYS);
      for (let round = 0; pending.length > 0; round++) {
        if (round === BATCH_ROUNDS) {
          throw new Error(`DynamoDB left ${pending.length} delivery reads unprocessed ${BATCH_ROUNDS} times`);
        }
        const out = await this.ddb.send(
          new BatchGetCommand({
            RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } },
          }),
        );
        for (const item of (out.Responses?.[this.table] as LogItem[] | undefined) ?? []) {
          if (item.delivery) found.set(`${item.pk} ${item.sk}`, item.delivery);
        }
        pending = (out.UnprocessedKeys?.[this.table]?.Keys as Key[] | undefined) ?? [];
      }
    }
    return found;
  }
}
