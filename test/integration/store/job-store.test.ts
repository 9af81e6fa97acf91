/** The job store against dynalite: optimistic concurrency, idempotency claims, listing by state and by owner, API keys. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobStore } from '../../../shared/store/job-store';
import {
  ApiKeyMissingError,
  CursorInvalidError,
  IdempotencyKeyConflictError,
  JobMissingError,
} from '../../../shared/store/errors';
import { ApiKeyStore } from '../../../shared/store/api-key-store';
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
    const first = await store.claimIdempotencyKey('default', key, body, 'job-1', new Date());
    const replay = await store.claimIdempotencyKey(
      'default',
      key,
      { b: { c: [1, 2] }, a: 1 },
      'job-2',
      new Date(),
    );
    const conflict = store.claimIdempotencyKey('default', key, { a: 2 }, 'job-3', new Date());
    // Assess
    expect(first).toBeUndefined();
    expect(replay?.jobId).toBe('job-1');
    await expect(conflict).rejects.toBeInstanceOf(IdempotencyKeyConflictError);
  });

  it('keeps Idempotency-Keys per tenant: the same key of another tenant is its own claim', async () => {
    // Prepare
    const key = `shared-${Date.now()}`;
    await store.claimIdempotencyKey('team-a', key, { a: 1 }, 'job-a', new Date());
    // Act
    const other = await store.claimIdempotencyKey('team-b', key, { b: 2 }, 'job-b', new Date());
    const againA = await store.claimIdempotencyKey('team-a', key, { a: 1 }, 'job-x', new Date());
    // Assess
    expect(other).toBeUndefined();
    expect(againA?.jobId).toBe('job-a');
  });

  it('lists jobs by state through the index, newest first', async () => {
    // Prepare
    const older = await store.create(aJob({ state: 'return-failed', createdAt: '2026-01-01T00:00:00.000Z' }));
    const newer = await store.create(aJob({ state: 'return-failed', createdAt: '2026-02-01T00:00:00.000Z' }));
    await store.create(aJob({ state: 'running' }));
    // Act
    const listed = await store.listInState('return-failed');
    // Assess
    expect(listed.map((j) => j.jobId)).toEqual([newer.jobId, older.jobId]);
  });

  it("pages a tenant's jobs newest first with a cursor, and never shows another tenant's", async () => {
    // Prepare
    const tenant = `pages-${Date.now()}`;
    const made = [];
    for (let d = 1; d <= 5; d++) {
      made.push(await store.create(aJob({ tenant, createdAt: `2027-0${d}-01T00:00:00.000Z` })));
    }
    await store.create(aJob({ tenant: `${tenant}-other` }));
    // Act
    const first = await store.listOwned({ tenant, limit: 2 });
    const second = await store.listOwned({ tenant, limit: 2, cursor: first.nextCursor! });
    const third = await store.listOwned({ tenant, limit: 2, cursor: second.nextCursor! });
    // Assess
    const ids = [...first.items, ...second.items, ...third.items].map((j) => j.jobId);
    expect(ids).toEqual(made.reverse().map((j) => j.jobId));
    expect(first.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('filters a page by state and keeps paging past the jobs it leaves out', async () => {
    // Prepare
    const tenant = `filter-${Date.now()}`;
    const running = await store.create(
      aJob({ tenant, state: 'running', createdAt: '2027-01-01T00:00:00.000Z' }),
    );
    for (let d = 2; d <= 4; d++) {
      await store.create(aJob({ tenant, state: 'returned', createdAt: `2027-0${d}-01T00:00:00.000Z` }));
    }
    // Act
    const page = await store.listOwned({ tenant, state: 'running', limit: 1 });
    // Assess
    expect(page.items.map((j) => j.jobId)).toEqual([running.jobId]);
  });

  it('refuses a cursor of another listing or one it did not make', async () => {
    // Prepare
    const tenant = `cursor-${Date.now()}`;
    for (let d = 1; d <= 2; d++)
      await store.create(aJob({ tenant, createdAt: `2027-0${d}-01T00:00:00.000Z` }));
    const page = await store.listOwned({ tenant, limit: 1 });
    // Act
    const otherTenant = await store
      .listOwned({ tenant: 'someone-else', cursor: page.nextCursor! })
      .catch((e: unknown) => e);
    const garbage = await store.listOwned({ tenant, cursor: 'not a cursor!' }).catch((e: unknown) => e);
    const forged = await store
      .listOwned({ tenant, cursor: Buffer.from('{"pk":1}').toString('base64url') })
      .catch((e: unknown) => e);
    // Assess
    expect(otherTenant).toBeInstanceOf(CursorInvalidError);
    expect(garbage).toBeInstanceOf(CursorInvalidError);
    expect(forged).toBeInstanceOf(CursorInvalidError);
  });
});

describe('ApiKeyStore', () => {
  it('finds a key only by its hash and never stores the key', async () => {
    // Prepare
    const keys = new ApiKeyStore(gw.deps.ddb, gw.deps.config.jobsTable);
    const key = 'bg_test-key-0123456789abcdef';
    await keys.put(key, {
      keyId: 'key-1',
      tenant: 'ci',
      scopes: ['read'],
      label: 'ci',
      createdAt: '2027-01-01T00:00:00.000Z',
    });
    // Act
    const found = await keys.find(key);
    const missing = await keys.find('bg_other-key-0123456789abcdef');
    const scan = JSON.stringify(await store.scanAll()) + JSON.stringify(await keys.list());
    // Assess
    expect(found).toEqual({
      keyId: 'key-1',
      tenant: 'ci',
      scopes: ['read'],
      label: 'ci',
      createdAt: '2027-01-01T00:00:00.000Z',
    });
    expect(missing).toBeUndefined();
    expect(scan).not.toContain(key);
  });

  it('lists keys by tenant and revokes one by id, keeping the first revocation time', async () => {
    // Prepare
    const keys = new ApiKeyStore(gw.deps.ddb, gw.deps.config.jobsTable);
    const tenant = `keys-${Date.now()}`;
    await keys.put('bg_list-key-a-0123456789abcdef', {
      keyId: `${tenant}-a`,
      tenant,
      scopes: ['read'],
      label: 'a',
      createdAt: '2027-01-01T00:00:00.000Z',
    });
    await keys.put('bg_list-key-b-0123456789abcdef', {
      keyId: `${tenant}-b`,
      tenant: `${tenant}x`,
      scopes: ['read'],
      label: 'b',
      createdAt: '2027-01-02T00:00:00.000Z',
    });
    // Act
    const listed = await keys.list(tenant);
    const revoked = await keys.revoke(`${tenant}-a`, new Date('2027-02-01T00:00:00.000Z'));
    const again = await keys.revoke(`${tenant}-a`, new Date('2027-03-01T00:00:00.000Z'));
    const missing = await keys.revoke('key-none', new Date()).catch((e: unknown) => e);
    // Assess
    expect(listed.map((k) => k.keyId)).toEqual([`${tenant}-a`]);
    expect(revoked.revokedAt).toBe('2027-02-01T00:00:00.000Z');
    expect(again.revokedAt).toBe('2027-02-01T00:00:00.000Z');
    expect((await keys.find('bg_list-key-a-0123456789abcdef'))?.revokedAt).toBe('2027-02-01T00:00:00.000Z');
    expect(missing).toBeInstanceOf(ApiKeyMissingError);
  });
});
