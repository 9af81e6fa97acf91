/** What GET /offloads/{id} shows of a job: no task tokens or internal keys, the callback redacted. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { viewJob } from '../../../shared/domain/view';
import { placeJob, stepTest, type StepTest } from './fixtures';

let t: StepTest;
beforeEach(() => {
  t = stepTest();
});
afterEach(() => t.fake.assertNoUnscriptedCalls());

describe('viewJob', () => {
  it('holds no task token, upload id or staging key, and shows the callback without its query', async () => {
    // Prepare
    const job = await placeJob(t, 'staged', (j) => {
      j.callbackUrl = 'https://hooks.example/burst?token=s3cr3t-value';
      j.image.uploadId = 'upload-id-internal';
      j.execution = {
        offloadArn: 'arn:aws:states:us-east-1:0:execution:offload:x',
        uploadTaskToken: 'upload-token-secret',
        launchTaskToken: 'launch-token-secret',
      };
    });
    // Act
    const view = await viewJob(t.gw, await t.gw.store.get(job.jobId));
    const text = JSON.stringify(view);
    // Assess
    expect(view.callbackUrl).toBe('https://hooks.example/burst');
    for (const secret of [
      's3cr3t-value',
      'upload-token-secret',
      'launch-token-secret',
      'upload-id-internal',
      job.image.key,
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(view).not.toHaveProperty('execution');
  });
});
