/** The job store against dynalite: optimistic concurrency, idempotency claims, listing by state. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobStore } from '../../../shared/store/job-store';
import { IdempotencyKeyConflictError, JobMissingError } from '../../../shared/store/errors';
import { newJobId } from '../../../shared/domain/ids';
import type { Job } from '../../../shared/domain/job';
import { startTestGateway, type TestGateway } from '../../helpers/embedded';

let gw: TestGateway;
let store: JobStore;

beforeAll(async () => {
  gw = await startTestGateway();
  store = new JobStore(gw.deps.ddb, gw.deps.config.jobsTable);
});
afterAll(async () => {
  await gw?.close();
});

function aJob(overrides: Partial<Job> = {}): Job {
  const now = new Date().toISOString();
  return {
    jobId: newJobId(),
    vmName: 'vm',
    state: 'awaiting-upload',
    target: { cloud: 'aws', region: 'us-east-1', instanceType: 't3.micro' },
    createdAt: now,
    updatedAt: now,
    version: 1,
    image: { format: 'raw', bucket: 'b', key: 'k', sizeBytes: 1 },
    resources: [],
    steps: [],
    bytes: { uploaded: 0 },
    cloud: {},
    ...overrides,
  };
}

describe('JobStore', () => {
  it('never loses a write when many writers update one job at once', async () => {
    // Prepare
    const job = await store.create(aJob());
    // Act: 6 concurrent read-modify-write updates, each adding one resource
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        store.update(job.jobId, (j) => {
          j.resources.push({
            type: 'snapshot',
            id: `snap-${i}`,
            location: 'us-east-1',
            createdAt: j.createdAt,
          });
        }),
      ),
    );
    // Assess
    const after = await store.get(job.jobId);
    expect(after.resources.map((r) => r.id).sort()).toEqual([
      'snap-0',
      'snap-1',
      'snap-2',
      'snap-3',
      'snap-4',
      'snap-5',
    ]);
    expect(after.version).toBe(7);
  });

  it('writes nothing when the change returns false, and says which job does not exist', async () => {
    // Prepare
    const job = await store.create(aJob());
    // Act
    const same = await store.update(job.jobId, () => false);
    // Assess
    expect(same.version).toBe(1);
    expect((await store.get(job.jobId)).version).toBe(1);
    await expect(store.get('job-00000000000000000000000000')).rejects.toBeInstanceOf(JobMissingError);
    await expect(store.create(job)).rejects.toThrow(/conditional/i);
  });

  it('claims an Idempotency-Key once, replays the same body, refuses another body', async () => {
    // Prepare
    const key = `key-${Date.now()}`;
    const body = { a: 1, b: { c: [1, 2] } };
    // Act
    const first = await store.claimIdempotencyKey(key, body, 'job-1', new Date());
    const replay = await store.claimIdempotencyKey(key, { b: { c: [1, 2] }, a: 1 }, 'job-2', new Date());
    const conflict = store.claimIdempotencyKey(key, { a: 2 }, 'job-3', new Date());
    // Assess
    expect(first).toBeUndefined();
    expect(replay?.jobId).toBe('job-1');
    await expect(conflict).rejects.toBeInstanceOf(IdempotencyKeyConflictError);
  });

  it('lists jobs by state through the index, newest first', async () => {
    // Prepare
    const older = await store.create(aJob({ state: 'return-failed', createdAt: '2026-01-01T00:00:00.000Z' }));
    const newer = await store.create(aJob({ state: 'return-failed', createdAt: '2026-02-01T00:00:00.000Z' }));
    await store.create(aJob({ state: 'running' }));
    // Act
    const listed = await store.list({ state: 'return-failed' });
    // Assess
    expect(listed.map((j) => j.jobId)).toEqual([newer.jobId, older.jobId]);
  });

  it('lists the newest jobs first and returns no more than the limit', async () => {
    // Prepare
    const made = [];
    for (let d = 1; d <= 5; d++) {
      made.push(await store.create(aJob({ createdAt: `2027-0${d}-01T00:00:00.000Z` })));
    }
    // Act
    const two = await store.list({ limit: 2 });
    // Assess
    expect(two.map((j) => j.jobId)).toEqual([made[4]!.jobId, made[3]!.jobId]);
  });

  it('finds API keys only by their hash and never stores the key', async () => {
    // Prepare
    const key = 'bg_test-key-0123456789abcdef';
    await store.putApiKey(key, 'ci');
    // Act
    const found = await store.findApiKey(key);
    const missing = await store.findApiKey('bg_other-key-0123456789abcdef');
    // Assess
    expect(found).toEqual({ label: 'ci' });
    expect(missing).toBeUndefined();
  });
});
