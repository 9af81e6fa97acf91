/**
 * DELETE arriving while a step or an API call is half-way: the cancel wins, the job stays
 * cancelled, and whatever the half-way call made is removed rather than left behind untracked.
 * The domain functions run against the embedded deployment's DynamoDB and S3, with the cloud
 * replaced by a recording fake so the interleaving is exact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { createGateway, recordResource, type Gateway } from '../../../shared/domain/gateway';
import { newJobId } from '../../../shared/domain/ids';
import { targetLocation, type Job, type JobResource, type JobState } from '../../../shared/domain/job';
import { completeUpload, startReturn } from '../../../shared/domain/offloads';
import { cancelAndRemove } from '../../helpers/cancel';
import { removeJobResources } from '../../../shared/domain/cleanup';
import { inspectImage } from '../../../shared/domain/workflow/inspect';
import { startImport } from '../../../shared/domain/workflow/aws-import';
import type { CloudTarget } from '../../../shared/clouds/cloud-target';
import { startTestGateway, type TestGateway } from '../../helpers/embedded';

let tg: TestGateway;
beforeAll(async () => {
  tg = await startTestGateway();
});
afterAll(async () => {
  await tg?.close();
});

/**
 * The embedded deps with Step Functions answering every call and starting nothing: a cancel test
 * runs the cancel workflow's step itself (cancelAndRemove) at the exact point it races.
 */
function gatewayWithoutWorkflows(): Gateway {
  const gw = createGateway(tg.deps);
  gw.sfn = { send: async () => ({}) } as unknown as Gateway['sfn'];
  return gw;
}

function newJob(gw: Gateway, state: JobState): Job {
  const now = gw.now().toISOString();
  const jobId = newJobId();
  return {
    jobId,
    vmName: 'race',
    state,
    target: { cloud: 'aws', region: 'us-east-1', instanceType: 't3.medium' },
    createdAt: now,
    updatedAt: now,
    version: 1,
    image: { format: 'raw', bucket: gw.staging.bucket, key: `staging/${jobId}/race.img`, sizeBytes: 4 },
    resources: [],
    steps: [],
    bytes: { uploaded: 0 },
    cloud: {},
  };
}

function fakeCloud(onCreate: () => Promise<void>): CloudTarget & { removed: JobResource[] } {
  const removed: JobResource[] = [];
  const no = () => Promise.reject(new Error('not used'));
  return {
    removed,
    startImport: async (job) => {
      await onCreate();
      return {
        type: 'import-task',
        id: `import-ami-${job.jobId.slice(-8)}`,
        location: targetLocation(job.target),
      };
    },
    checkImport: no,
    launch: no,
    instanceState: no,
    stop: no,
    startExport: no,
    checkExport: no,
    remove: async (r) => {
      removed.push(r);
    },
  };
}

describe('cancel during a step', () => {
  it('StartImport: an import task created while the job was being cancelled is removed, and the job stays cancelled', async () => {
    // Prepare
    const gw = gatewayWithoutWorkflows();
    const job = newJob(gw, 'inspecting');
    await gw.store.create(job);
    const cloud = fakeCloud(async () => {
      await cancelAndRemove(gw, job.jobId); // DELETE arrives while ImportImage is in flight
    });
    gw.cloudFor = () => cloud;
    // Act
    const outcome = await startImport(gw, job.jobId).then(
      () => 'resolved',
      (err: Error) => err.name,
    );
    // Assess
    const after = await gw.store.get(job.jobId);
    expect(outcome).not.toBe('resolved');
    expect(after.state).toBe('cancelled');
    expect(after.resources.filter((r) => !r.removedAt)).toEqual([]);
    expect(cloud.removed.map((r) => r.type)).toEqual(['import-task']);
  });

  it('Inspect: a cancel between reading the job and starting the step is not overwritten', async () => {
    // Prepare
    const gw = gatewayWithoutWorkflows();
    const job = newJob(gw, 'inspecting');
    await gw.store.create(job);
    const get = gw.store.get.bind(gw.store);
    let first = true;
    gw.store.get = async (id) => {
      const j = await get(id);
      if (first) {
        first = false;
        await cancelAndRemove(gw, id); // DELETE lands right after the step read the job
      }
      return j;
    };
    // Act
    const outcome = await inspectImage(gw, job.jobId).then(
      () => 'resolved',
      (err: Error) => err.name,
    );
    // Assess
    expect(outcome).not.toBe('resolved');
    expect((await get(job.jobId)).state).toBe('cancelled');
  });
});

describe('cancel during upload-complete', () => {
  it('the completed object is removed and the job stays cancelled', async () => {
    // Prepare: a real multipart upload with one part
    const gw = gatewayWithoutWorkflows();
    const job = newJob(gw, 'awaiting-upload');
    const uploadId = await gw.staging.createUpload(job.image.key);
    job.image.uploadId = uploadId;
    recordResource(job, { type: 'multipart-upload', id: uploadId, location: gw.staging.bucket }, gw.now());
    await gw.store.create(job);
    const part = await tg.deps.s3.send(
      new UploadPartCommand({
        Bucket: gw.staging.bucket,
        Key: job.image.key,
        UploadId: uploadId,
        PartNumber: 1,
        Body: Buffer.from('abcd'),
      }),
    );
    const complete = gw.staging.completeUpload.bind(gw.staging);
    gw.staging.completeUpload = async (...args) => {
      await complete(...args);
      await cancelAndRemove(gw, job.jobId); // DELETE lands right after S3 completed the object
    };
    // Act
    const outcome = await completeUpload(gw, job.jobId, {
      parts: [{ partNumber: 1, etag: part.ETag! }],
    }).then(
      () => 'resolved',
      (err: Error) => err.name,
    );
    // Assess
    const after = await gw.store.get(job.jobId);
    expect(outcome).toBe('InvalidJobStateError');
    expect(after.state).toBe('cancelled');
    expect(await gw.staging.size(job.image.key)).toBeUndefined();
  });

  it('a retry after S3 completed the upload (the first call died before recording it) succeeds', async () => {
    // Prepare: the upload was completed in S3, but the job never heard of it
    const gw = gatewayWithoutWorkflows();
    const job = newJob(gw, 'awaiting-upload');
    const uploadId = await gw.staging.createUpload(job.image.key);
    job.image.uploadId = uploadId;
    recordResource(job, { type: 'multipart-upload', id: uploadId, location: gw.staging.bucket }, gw.now());
    await gw.store.create(job);
    const part = await tg.deps.s3.send(
      new UploadPartCommand({
        Bucket: gw.staging.bucket,
        Key: job.image.key,
        UploadId: uploadId,
        PartNumber: 1,
        Body: Buffer.from('abcd'),
      }),
    );
    const parts = [{ partNumber: 1, etag: part.ETag! }];
    await gw.staging.completeUpload(job.image.key, uploadId, parts);
    // Act
    const done = await completeUpload(gw, job.jobId, { parts });
    // Assess
    expect(done.state).toBe('inspecting');
    expect(done.bytes.uploaded).toBe(4);
    expect(done.resources.find((r) => r.type === 's3-object')?.id).toBe(job.image.key);
  });

  it('a retry without a completed object is a 4xx problem, not a 500', async () => {
    // Prepare: the multipart upload is gone and no object was made (e.g. aborted outside burstgate)
    const gw = createGateway(tg.deps);
    const job = newJob(gw, 'awaiting-upload');
    const uploadId = await gw.staging.createUpload(job.image.key);
    job.image.uploadId = uploadId;
    await gw.store.create(job);
    await gw.staging.abortUpload(job.image.key, uploadId);
    // Act
    const err = (await completeUpload(gw, job.jobId, { parts: [{ partNumber: 1, etag: 'x' }] }).catch(
      (e: unknown) => e,
    )) as { status?: number };
    // Assess
    expect(err.status).toBeGreaterThanOrEqual(400);
    expect(err.status).toBeLessThan(500);
  });
});

describe('a second return attempt', () => {
  it("does not keep the first attempt's exported image forever", async () => {
    // Prepare: a return that exported and published, then failed (e.g. in cleanup)
    const gw = gatewayWithoutWorkflows();
    const job = newJob(gw, 'return-failed');
    const oldKey = `returns/${job.jobId}/export-i-0123456789abcdef0.ova`;
    await tg.deps.s3.send(new PutObjectCommand({ Bucket: gw.staging.bucket, Key: oldKey, Body: 'ova' }));
    recordResource(
      job,
      { type: 's3-object', id: oldKey, location: gw.staging.bucket, retained: true },
      gw.now(),
    );
    job.returned = {
      bucket: gw.staging.bucket,
      key: oldKey,
      format: 'ova',
      sizeBytes: 3,
      sha256: 'a'.repeat(64),
      diskSha256: 'b'.repeat(64),
      matchesOriginal: true,
    };
    await gw.store.create(job);
    // Act: the user retries; the new attempt's cleanup removes what the job no longer keeps
    await startReturn(gw, job.jobId);
    await removeJobResources(gw, job.jobId, { types: ['s3-object'] });
    // Assess
    expect(await gw.staging.size(oldKey)).toBeUndefined();
  });
});
