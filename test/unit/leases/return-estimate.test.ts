/** The return estimate a returnBy is planned with (shared/domain/return-estimate.ts). */
import { describe, expect, it } from 'vitest';
import type { Job } from '../../../shared/domain/job';
import {
  estimateReturn,
  FIRST_RETURN_MODEL,
  MIN_MARGIN_SECONDS,
} from '../../../shared/domain/return-estimate';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

function job(over: Partial<Job> & { seconds?: number; returnedAt?: string } = {}): Job {
  const returnedAt = over.returnedAt ?? '2027-01-01T12:00:00.000Z';
  const base = {
    jobId: over.jobId ?? 'job-00000000000000000000000000',
    vmName: over.vmName ?? 'db01',
    state: 'returned',
    target: over.target ?? { cloud: 'aws', region: 'us-east-1', instanceType: 't3.medium' },
    createdAt: '2027-01-01T00:00:00.000Z',
    updatedAt: returnedAt,
    version: 1,
    image: { format: 'ova', bucket: 'b', key: 'k', sizeBytes: 2 * GiB, ...(over.image ?? {}) },
    resources: [],
    steps: [],
    bytes: { uploaded: 0 },
    cloud: {},
  } as Job;
  if (over.seconds !== undefined) {
    base.returnedAt = returnedAt;
    base.returnStartedAt = new Date(Date.parse(returnedAt) - over.seconds * 1000).toISOString();
  }
  return base;
}

describe('estimateReturn', () => {
  it('models a first return from the disk size and the path (AWS import: export at 25 MiB/s + 20 min)', () => {
    // Prepare
    const next = job({ jobId: 'job-1', image: { diskCapacityBytes: 10 * GiB } as Job['image'] });

    // Act
    const estimate = estimateReturn(next, []);

    // Assess: 1200 + 10240 MiB / 25 MiB/s = 1609.6 s → 1610, margin max(300, 403) = 403
    expect(FIRST_RETURN_MODEL['aws-import']).toEqual({ fixedSeconds: 1200, bytesPerSecond: 25 * MiB });
    expect(estimate.seconds).toBe(1610 + 403);
    expect(estimate.basis).toBe(
      'first return of db01 (aws-import): 1200 s fixed + 10240 MiB at 25 MiB/s = 1610 s, plus a margin of 403 s',
    );
  });

  it('uses the path of the job: AWS direct and Azure read at their own rates', () => {
    // Prepare
    const image = { diskCapacityBytes: 6000 * MiB } as Job['image'];
    const direct = job({
      target: { cloud: 'aws', region: 'us-east-1', instanceType: 't3.medium', mode: 'direct' },
      image,
    });
    const azure = job({
      target: { cloud: 'azure', location: 'westeurope', vmSize: 'Standard_D2s_v3', resourceGroup: 'rg' },
      image,
    });

    // Act / Assess: 300 + 60 = 360 (+300 margin); 300 + 100 = 400 (+300 margin)
    expect(estimateReturn(direct, []).seconds).toBe(360 + MIN_MARGIN_SECONDS);
    expect(estimateReturn(azure, []).seconds).toBe(400 + MIN_MARGIN_SECONDS);
  });

  it('takes the p90 of the VM’s earlier returns on the same path, ignoring other VMs and paths', () => {
    // Prepare: ten returns of db01 via import, 100..1000 s; noise from another VM and from Azure
    const history = [
      ...Array.from({ length: 10 }, (_, i) =>
        job({
          jobId: `job-a${i}`,
          seconds: (i + 1) * 100,
          returnedAt: `2027-01-0${(i % 9) + 1}T00:00:00.000Z`,
        }),
      ),
      job({ jobId: 'job-other', vmName: 'web01', seconds: 99_999 }),
      job({
        jobId: 'job-azure',
        seconds: 88_888,
        target: { cloud: 'azure', location: 'westeurope', vmSize: 'Standard_D2s_v3', resourceGroup: 'rg' },
      }),
      job({ jobId: 'job-never-returned' }),
    ];

    // Act
    const estimate = estimateReturn(job({ jobId: 'job-next' }), history);

    // Assess: nearest-rank p90 of 100..1000 is 900; margin max(300, 225) = 300
    expect(estimate.seconds).toBe(1200);
    expect(estimate.basis).toBe(
      'p90 of 10 earlier return(s) of db01 (aws-import): 900 s, plus a margin of 300 s',
    );
  });
});
