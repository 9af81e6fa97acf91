/**
 * Publishing a return as a delta (shared/domain/workflow/delta-publish.ts), whatever cloud the
 * extents come from: where it is stored, the result's SHA-256 of a delta and of a full copy, and
 * what the job records.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { publishDeltaArtifact } from '../../../shared/domain/workflow/delta-publish';
import type { DeltaExtentInput } from '../../../shared/images/delta-writer';
import { openRandomAccess } from '../../../shared/images/random-access';
import { bufferSource } from '../../../shared/images/source';
import { applied } from './ebs-fixtures';
import { pseudoRandom } from '../../helpers/images/fixtures';
import { placeJob, sha256, stepTest, type StepTest } from './fixtures';

let t: StepTest;
beforeEach(() => {
  t = stepTest();
});
afterEach(() => t.fake.assertNoUnscriptedCalls());

const KiB = 1024;
/** 64 KiB of disk: data in the second 16 KiB, zeros elsewhere. */
const OFFLOADED = () =>
  Buffer.concat([Buffer.alloc(16 * KiB), pseudoRandom(16 * KiB, 3), Buffer.alloc(32 * KiB)]);

/** Extents as a cloud's reader hands them out: one at a time. */
async function* streamed(...extents: DeltaExtentInput[]): AsyncGenerator<DeltaExtentInput> {
  yield* extents;
}

async function publishing(disk: Buffer, vmName = 'vm-01', returnAttempts = 1) {
  return placeJob(t, 'returning', (j) => {
    j.vmName = vmName;
    j.image.diskSha256 = sha256(disk);
    j.execution = { returnAttempts };
    j.activeStep = { name: 'publish', startedAt: t.gw.now().toISOString() };
  });
}

describe('publishDeltaArtifact', () => {
  it('stores a delta over the base under returns/, named after the VM and the return attempt', async () => {
    // Prepare: the guest rewrote the first 4 KiB
    const offloaded = OFFLOADED();
    const job = await publishing(offloaded, 'web server/01', 3);
    const change = pseudoRandom(4 * KiB, 9);
    const guest = Buffer.from(offloaded);
    change.copy(guest, 0);
    // Act
    const out = await publishDeltaArtifact(t.gw, job, {
      virtualSize: offloaded.length,
      base: await openRandomAccess(bufferSource(offloaded), { format: 'raw' }),
      extents: streamed({ kind: 'data', offset: 0, data: change }),
      changedBytes: () => change.length,
      readBytes: () => change.length,
      source: 'a test',
    });
    // Assess
    const stored = t.fake.bucket.get(out.key)!;
    expect(out.key).toBe(`returns/${job.jobId}/web_server_01-3.bgdelta`);
    expect(sha256((await applied(stored, offloaded)).disk)).toBe(sha256(guest));
    expect(out).toMatchObject({
      diskSha256: sha256(guest),
      matchesOriginal: false,
      full: false,
      sha256: sha256(stored),
    });
    expect((await t.gw.store.get(job.jobId)).steps.at(-1)?.detail).toBe(
      `delta: 4096 bytes changed, 4096 bytes read from a test, ${stored.length} bytes published; disk content changed while in the cloud`,
    );
  });

  it('hashes a full copy’s zero extents with its data: the SHA-256 is the whole disk’s', async () => {
    // Prepare
    const offloaded = OFFLOADED();
    const job = await publishing(offloaded);
    // Act
    const out = await publishDeltaArtifact(t.gw, job, {
      virtualSize: offloaded.length,
      extents: streamed(
        { kind: 'zero', offset: 0, length: 16 * KiB },
        {
          kind: 'data',
          offset: 16 * KiB,
          length: 16 * KiB,
          data: [offloaded.subarray(16 * KiB, 24 * KiB), offloaded.subarray(24 * KiB, 32 * KiB)],
        },
        { kind: 'zero', offset: 32 * KiB, length: 32 * KiB },
      ),
      changedBytes: () => 16 * KiB,
      readBytes: () => 16 * KiB,
      source: 'a test',
    });
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(out).toMatchObject({ full: true, diskSha256: sha256(offloaded), matchesOriginal: true });
    expect(sha256((await applied(t.fake.bucket.get(out.key)!)).disk)).toBe(sha256(offloaded));
    expect(after.returned).toMatchObject({
      format: 'delta',
      diskSha256: sha256(offloaded),
      matchesOriginal: true,
    });
    expect(after.returned).not.toHaveProperty('baseDiskSha256');
    expect(after.steps.at(-1)?.detail).toMatch(/disk content identical to the offloaded disk$/);
  });
});
