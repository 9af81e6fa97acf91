import { describe, expect, it } from 'vitest';
import { downloadLines, renderJob, renderJobTable, targetText } from '../../../shared/client/render';
import type { ClientJobView, JobDownload, JobTarget } from '../../../shared/client/types';
import { jobView } from '../../helpers/job-view';

const AZURE: JobTarget = { cloud: 'azure', location: 'westeurope', vmSize: 'Standard_D2s_v3' };
const DELTA: JobDownload = {
  url: 'http://127.0.0.1:1/s3/job/app01.bgdelta?X-Amz-Signature=secret',
  expiresAt: '2099-01-01T00:00:00Z',
  format: 'delta',
  sizeBytes: 3 * 1024 * 1024,
  sha256: 'a'.repeat(64),
  diskSha256: 'b'.repeat(64),
  baseDiskSha256: 'c'.repeat(64),
  matchesOriginal: false,
};

function azureJob(overrides: Partial<ClientJobView> = {}): ClientJobView {
  return { ...jobView({ vmName: 'app01', state: 'running' }), target: AZURE, ...overrides };
}

describe('targetText', () => {
  it('names the cloud, where and what size, for each cloud', () => {
    // Prepare
    const aws: JobTarget = { cloud: 'aws', region: 'eu-west-1', instanceType: 'm5.large' };
    const withGroup: JobTarget = { ...AZURE, resourceGroup: 'rg-burst' };
    // Act / Assess
    expect(targetText({ target: aws })).toBe('aws eu-west-1 m5.large');
    expect(targetText({ target: AZURE })).toBe('azure westeurope Standard_D2s_v3');
    expect(targetText({ target: withGroup })).toBe(
      'azure westeurope Standard_D2s_v3 (resource group rg-burst)',
    );
  });

  it("shows a newer gateway's cloud by what it says, rather than failing", () => {
    const future = { cloud: 'gcp', zone: 'europe-west1-b', machineType: 'e2-medium' } as unknown as JobTarget;
    expect(targetText({ target: future })).toBe('gcp europe-west1-b e2-medium');
  });
});

describe('renderJob and renderJobTable with an Azure target and a delta download', () => {
  it('shows the Azure target in status and list', () => {
    // Prepare
    const job = azureJob({ target: { ...AZURE, resourceGroup: 'rg-burst' } });
    // Act
    const status = renderJob(job);
    const table = renderJobTable([job]);
    // Assess
    expect(status).toContain('  target     azure westeurope Standard_D2s_v3 (resource group rg-burst)');
    expect(table.split('\n')[1]).toBe(
      `${job.jobId}  running  app01  azure westeurope Standard_D2s_v3 (resource group rg-burst)  ${job.updatedAt}`,
    );
  });

  it('shows what a delta is, what it applies to and how to rebuild it', () => {
    // Prepare
    const job = azureJob({ state: 'returned', download: DELTA });
    // Act
    const lines = renderJob(job).split('\n');
    // Assess
    expect(lines).toContain(
      `  download   delta (only what changed in the cloud), 3.0 MiB, sha256 ${'a'.repeat(64)}, expires 2099-01-01T00:00:00Z`,
    );
    expect(lines).toContain(`             applies to the disk with content sha256 ${'c'.repeat(64)}`);
    expect(lines).toContain(
      `             (burstgate return ${job.jobId} --base <the offloaded image> --out <file> rebuilds it)`,
    );
    expect(lines).toContain(`             result content sha256 ${'b'.repeat(64)} (changed in the cloud)`);
  });

  it('keeps the whole-OVA download as one line plus the disk hash', () => {
    const ova: JobDownload = { ...DELTA, format: 'ova', matchesOriginal: true };
    delete ova.baseDiskSha256;
    expect(downloadLines(ova, 'job-1')).toEqual([
      ['download', `ova, 3.0 MiB, sha256 ${'a'.repeat(64)}, expires 2099-01-01T00:00:00Z`],
      ['', `disk content sha256 ${'b'.repeat(64)} (identical to the original)`],
    ]);
  });
});

describe('renderJob of a returned AWS direct-mode job', () => {
  it('tells the download from the snapshot and AMI the image cache keeps', () => {
    // Prepare
    const at = '2025-01-01T00:00:00.000Z';
    const job = jobView({
      state: 'returned',
      target: { cloud: 'aws', region: 'us-east-1', instanceType: 't3.medium', mode: 'direct' },
      resources: [
        { type: 'snapshot', id: 'snap-0123', location: 'us-east-1', createdAt: at, retained: true },
        { type: 'ami', id: 'ami-0123', location: 'us-east-1', createdAt: at, retained: true },
        { type: 'snapshot', id: 'snap-0456', location: 'us-east-1', createdAt: at, removedAt: at },
        {
          type: 's3-object',
          id: 'returns/job/vm-1.bgdelta',
          location: 'staging',
          createdAt: at,
          retained: true,
        },
      ],
    });

    // Act
    const lines = renderJob(job).split('\n');

    // Assess
    expect(lines).toContain('    snapshot         snap-0123  (us-east-1)  kept (the image cache)');
    expect(lines).toContain('    ami              ami-0123  (us-east-1)  kept (the image cache)');
    expect(lines).toContain(`    snapshot         snap-0456  (us-east-1)  removed ${at}`);
    expect(lines).toContain('    s3-object        returns/job/vm-1.bgdelta  (staging)  kept (the download)');
  });
});
