/**
 * Jobs and idempotency records in one DynamoDB table (pk/sk, GSI `byState` for the gateway's own
 * sweeps, GSI `byOwner` for a tenant's listing; API keys: api-key-store.ts).
 * Designed without transactions or TTL (the embedded dynalite has neither): every job write is a
 * conditional put on the job's `version`, so concurrent writers never lose each other's changes.
 */
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { IdempotencyKeyConflictError, JobMissingError, JobWriteConflictError } from './errors';
import { DEFAULT_TENANT, ownerOf, type Job, type JobState } from '../domain/job';
import { isConditionFailure, putIfVersion, updateVersioned } from './versioned';
import { BY_OWNER_INDEX, backfillOwnerIndex, queryOwnerPage, type OwnerPage } from './owner-index';
import { sha256Hex } from './api-key-store';

export const BY_STATE_INDEX = 'byState';
const JOB_SK = 'JOB';
/** Conditional writes one update tries before it gives up to a job that keeps changing. */
const UPDATE_ATTEMPTS = 8;

const jobKey = (jobId: string) => ({ pk: `JOB#${jobId}`, sk: JOB_SK });
const ownerPartition = (tenant: string) => `JOBS#${tenant}`;

interface JobItem {
  pk: string;
  sk: string;
  gsi1pk: string;
  gsi1sk: string;
  gsi2pk: string;
  gsi2sk: string;
  version: number;
  job: Job;
}

export interface IdempotencyRecord {
  jobId: string;
  bodyHash: string;
  createdAt: string;
}

export class JobStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  private toItem(job: Job): JobItem {
    return {
      ...jobKey(job.jobId),
      gsi1pk: `STATE#${job.state}`,
      gsi1sk: `${job.createdAt}#${job.jobId}`,
      gsi2pk: ownerPartition(ownerOf(job)),
      gsi2sk: `${job.createdAt}#${job.jobId}`,
      version: job.version,
      job,
    };
  }

  /** Stores a new job; fails if one with that id exists. */
  async create(job: Job): Promise<Job> {
    await this.ddb.send(
      new PutCommand({
        TableName: this.table,
        Item: this.toItem(job),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return job;
  }

  async find(jobId: string): Promise<Job | undefined> {
    const out = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: jobKey(jobId), ConsistentRead: true }),
    );
    return (out.Item as JobItem | undefined)?.job;
  }

  async get(jobId: string): Promise<Job> {
    const job = await this.find(jobId);
    if (!job) throw new JobMissingError(jobId);
    return job;
  }

  /**
   * Read-modify-write with optimistic concurrency. `change` gets a copy of the current job and
   * edits it (or returns false to write nothing); it may run more than once if another writer won.
   */
  async update(jobId: string, change: (job: Job) => void | false, now: Date = new Date()): Promise<Job> {
    return updateVersioned({
      read: () => this.get(jobId),
      write: (next, expected) => putIfVersion(this.ddb, this.table, this.toItem(next), expected),
      change,
      now,
      attempts: UPDATE_ATTEMPTS,
      conflict: () => new JobWriteConflictError(jobId, UPDATE_ATTEMPTS),
    });
  }

  /** A tenant's jobs, newest first, a page at a time (GSI byOwner); of one state when given. */
  async listOwned(opts: {
    tenant: string;
    state?: JobState;
    limit?: number;
    cursor?: string;
  }): Promise<OwnerPage<Job>> {
    return queryOwnerPage(this.ddb, this.table, {
      partition: ownerPartition(opts.tenant),
      limit: opts.limit ?? 100,
      ...(opts.cursor ? { cursor: opts.cursor } : {}),
      ...(opts.state
        ? { filter: { expression: 'gsi1pk = :state', values: { ':state': `STATE#${opts.state}` } } }
        : {}),
      pick: (item) => (item as unknown as JobItem).job,
    });
  }

  /** A tenant's jobs, newest first, across at most `maxPages` pages of 100 (stop early by breaking out). */
  async *ownedNewestFirst(tenant: string, maxPages: number): AsyncGenerator<Job> {
    let cursor: string | undefined;
    for (let page = 0; page < maxPages; page++) {
      const res = await this.listOwned({ tenant, limit: 100, ...(cursor ? { cursor } : {}) });
      yield* res.items;
      cursor = res.nextCursor;
      if (!cursor) return;
    }
  }

  /** Jobs in one state, newest first, of every tenant (GSI byState): the gateway's own sweeps. */
  async listInState(state: JobState, limit = 100): Promise<Job[]> {
    const out = await this.ddb.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: BY_STATE_INDEX,
        KeyConditionExpression: 'gsi1pk = :s',
        ExpressionAttributeValues: { ':s': `STATE#${state}` },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (out.Items as JobItem[] | undefined)?.map((i) => i.job) ?? [];
  }

  /** Creation times (ascending) of a tenant's jobs made at or after `since`: at most `limit` (GSI byOwner). */
  async createdSince(tenant: string, since: Date, limit: number): Promise<string[]> {
    const out = await this.ddb.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: BY_OWNER_INDEX,
        KeyConditionExpression: 'gsi2pk = :owner AND gsi2sk >= :since',
        ExpressionAttributeValues: { ':owner': ownerPartition(tenant), ':since': since.toISOString() },
        ScanIndexForward: true,
        Limit: limit,
      }),
    );
    return ((out.Items as JobItem[] | undefined) ?? []).map((i) => i.job.createdAt);
  }

  /**
   * A tenant's jobs in `states` (the ones not done), from GSI byState: what is in flight across the
   * deployment is small, a tenant's history is not, so this reads the former filtered by owner.
   */
  async activeOf(tenant: string, states: readonly JobState[]): Promise<Job[]> {
    // one query per state, all at once: each reads only what is in flight in that state
    const perState = await Promise.all(states.map((state) => this.inStateOf(tenant, state)));
    return perState.flat();
  }

  private async inStateOf(tenant: string, state: JobState): Promise<Job[]> {
    const jobs: Job[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.ddb.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: BY_STATE_INDEX,
          KeyConditionExpression: 'gsi1pk = :s',
          FilterExpression: 'gsi2pk = :owner',
          ExpressionAttributeValues: { ':s': `STATE#${state}`, ':owner': ownerPartition(tenant) },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of (out.Items as JobItem[] | undefined) ?? []) jobs.push(item.job);
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return jobs;
  }

  /**
   * Every job of every tenant, by a scan of the table: only for the embedded deployment's restart
   * (resume.ts) and migrations, never for an API call.
   */
  async scanAll(): Promise<Job[]> {
    const jobs: Job[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.ddb.send(
        new ScanCommand({
          TableName: this.table,
          FilterExpression: 'sk = :sk',
          ExpressionAttributeValues: { ':sk': JOB_SK },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of (out.Items as JobItem[] | undefined) ?? []) jobs.push(item.job);
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return jobs;
  }

  /** Writes jobs from before GSI byOwner again so they are in it (owner-index.ts); returns how many. */
  async backfillOwnerIndex(): Promise<number> {
    return backfillOwnerIndex<JobItem>(this.ddb, this.table, JOB_SK, (i) => this.toItem(i.job));
  }

  /** Whether the tenant used this Idempotency-Key before (a replay, or a conflict). */
  async idempotencyKeyUsed(tenant: string, key: string): Promise<boolean> {
    const out = await this.ddb.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: idempotencyPk(tenant, key), sk: 'IDEM' },
        ConsistentRead: true,
      }),
    );
    return out.Item !== undefined;
  }

  /**
   * Claims an Idempotency-Key for a request body. Returns the existing record when the key was
   * used before with the same body (a replay), throws IdempotencyKeyConflictError when the body differs,
   * and returns undefined when this call claimed the key for `jobId`.
   */
  async claimIdempotencyKey(
    tenant: string,
    key: string,
    body: unknown,
    jobId: string,
    now: Date,
  ): Promise<IdempotencyRecord | undefined> {
    const bodyHash = sha256Hex(canonicalJson(body));
    const pk = idempotencyPk(tenant, key);
    const record: IdempotencyRecord = { jobId, bodyHash, createdAt: now.toISOString() };
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk, sk: 'IDEM', ...record },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return undefined;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
    const out = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: { pk, sk: 'IDEM' }, ConsistentRead: true }),
    );
    const existing = out.Item as (IdempotencyRecord & { pk: string }) | undefined;
    if (!existing) throw new Error(`idempotency record ${pk} vanished`);
    if (existing.bodyHash !== bodyHash) throw new IdempotencyKeyConflictError(key, existing.jobId);
    return { jobId: existing.jobId, bodyHash: existing.bodyHash, createdAt: existing.createdAt };
  }
}

/**
 * Keys are per tenant: two teams' "retry-1" are two records. The default tenant keeps the form its
 * records had before tenants, so a retry across the upgrade still replays.
 */
const idempotencyPk = (tenant: string, key: string): string =>
  `IDEM#${sha256Hex(tenant === DEFAULT_TENANT ? key : `${tenant}\n${key}`)}`;

/** JSON with object keys sorted, so equal bodies hash equal whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
