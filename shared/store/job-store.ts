/**
 * Jobs, idempotency records and hashed API keys in one DynamoDB table (pk/sk + GSI `byState`).
 * Designed without transactions or TTL (the embedded dynalite has neither): every job write is a
 * conditional put on the job's `version`, so concurrent writers never lose each other's changes.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { IdempotencyKeyConflictError, JobMissingError, JobWriteConflictError } from './errors';
import type { Job, JobState } from '../domain/job';
import { isConditionFailure, updateVersioned } from './versioned';

export const BY_STATE_INDEX = 'byState';
const JOB_SK = 'JOB';
/** Conditional writes one update tries before it gives up to a job that keeps changing. */
const UPDATE_ATTEMPTS = 8;

const jobKey = (jobId: string) => ({ pk: `JOB#${jobId}`, sk: JOB_SK });
/** A new API key: `bg_` + 32 random bytes, base64url. Only its SHA-256 is ever stored. */
export function newApiKey(): string {
  return `bg_${randomBytes(32).toString('base64url')}`;
}

export const sha256Hex = (text: string | Buffer): string => createHash('sha256').update(text).digest('hex');

interface JobItem {
  pk: string;
  sk: string;
  gsi1pk: string;
  gsi1sk: string;
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
      write: (next, expected) =>
        this.ddb.send(
          new PutCommand({
            TableName: this.table,
            Item: this.toItem(next),
            ConditionExpression: 'version = :v',
            ExpressionAttributeValues: { ':v': expected },
          }),
        ),
      change,
      now,
      attempts: UPDATE_ATTEMPTS,
      conflict: () => new JobWriteConflictError(jobId, UPDATE_ATTEMPTS),
    });
  }

  /** Jobs, newest first; by state through the GSI, else a scan of job items. */
  async list(opts: { state?: JobState; limit?: number } = {}): Promise<Job[]> {
    const limit = opts.limit ?? 100;
    if (opts.state) {
      const out = await this.ddb.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: BY_STATE_INDEX,
          KeyConditionExpression: 'gsi1pk = :s',
          ExpressionAttributeValues: { ':s': `STATE#${opts.state}` },
          ScanIndexForward: false,
          Limit: limit,
        }),
      );
      return (out.Items as JobItem[] | undefined)?.map((i) => i.job) ?? [];
    }
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
      // Keep only the newest `limit` as pages arrive: memory stays bounded by the limit, not the table.
      if (jobs.length > 2 * limit) newestFirst(jobs).splice(limit);
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return newestFirst(jobs).slice(0, limit);
  }

  /**
   * Claims an Idempotency-Key for a request body. Returns the existing record when the key was
   * used before with the same body (a replay), throws IdempotencyKeyConflictError when the body differs,
   * and returns undefined when this call claimed the key for `jobId`.
   */
  async claimIdempotencyKey(
    key: string,
    body: unknown,
    jobId: string,
    now: Date,
  ): Promise<IdempotencyRecord | undefined> {
    const bodyHash = sha256Hex(canonicalJson(body));
    const pk = `IDEM#${sha256Hex(key)}`;
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

  /** API keys are stored as SHA-256 hex of the key; the key itself is never stored. */
  async findApiKey(apiKey: string): Promise<{ label: string } | undefined> {
    const out = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: { pk: `APIKEY#${sha256Hex(apiKey)}`, sk: 'APIKEY' } }),
    );
    if (!out.Item || out.Item.disabled === true) return undefined;
    return { label: String(out.Item.label ?? '') };
  }

  async putApiKey(apiKey: string, label: string, now: Date = new Date()): Promise<void> {
    await this.ddb.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: `APIKEY#${sha256Hex(apiKey)}`, sk: 'APIKEY', label, createdAt: now.toISOString() },
      }),
    );
  }
}

function newestFirst(jobs: Job[]): Job[] {
  return jobs.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
}

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
