import { describe, expect, it } from 'vitest';
import { GatewayClientError } from '../../../shared/client/errors';
import {
  RETURN_OUTPUT_FORMATS,
  checkBase,
  checkDownload,
  outputFormatFor,
} from '../../../shared/client/returned-image';
import type { JobDownload } from '../../../shared/client/types';

const DELTA: JobDownload = {
  url: 'http://127.0.0.1:1/s3/job/app01.bgdelta?X-Amz-Signature=secret',
  expiresAt: '2099-01-01T00:00:00Z',
  format: 'delta',
  sizeBytes: 4096,
  sha256: 'a'.repeat(64),
  diskSha256: 'b'.repeat(64),
  baseDiskSha256: 'c'.repeat(64),
  matchesOriginal: false,
};

function problem(fn: () => unknown): GatewayClientError {
  try {
    fn();
  } catch (e) {
    if (e instanceof GatewayClientError) return e;
    throw e;
  }
  throw new Error('expected a GatewayClientError');
}

describe('outputFormatFor', () => {
  it('chooses an OVA for .ova (any case) and a streamOptimized VMDK for anything else', () => {
    expect(outputFormatFor('/x/vm.ova')).toBe('ova');
    expect(outputFormatFor('VM.OVA')).toBe('ova');
    expect(outputFormatFor('vm.vmdk')).toBe('vmdk-stream');
    expect(outputFormatFor('vm.img')).toBe('vmdk-stream');
    expect(outputFormatFor('vm')).toBe('vmdk-stream');
  });

  it('offers ova and every disk format shared/images writes', () => {
    expect(RETURN_OUTPUT_FORMATS[0]).toBe('ova');
    expect(RETURN_OUTPUT_FORMATS).toContain('vmdk-stream');
  });
});

describe('checkDownload', () => {
  it('accepts a delta and an OVA download as the contract describes them', () => {
    expect(checkDownload({ jobId: 'job-1', download: DELTA })).toBe(DELTA);
    const { baseDiskSha256: _b, ...ova } = DELTA;
    expect(checkDownload({ jobId: 'job-1', download: { ...ova, format: 'ova' } }).format).toBe('ova');
  });

  it.each([
    ['no download', undefined, /there is none/],
    [
      'an unknown format',
      { ...DELTA, format: 'qcow2' },
      /format "qcow2": this burstgate knows ova and delta; update it/,
    ],
    ['no url', { ...DELTA, url: '' }, /no url/],
    ['a negative size', { ...DELTA, sizeBytes: -1 }, /sizeBytes -1/],
    [
      'an uppercase sha256',
      { ...DELTA, sha256: 'A'.repeat(64) },
      /sha256 "A{64}" is not a lowercase hex SHA-256/,
    ],
    ['a short diskSha256', { ...DELTA, diskSha256: 'b' }, /diskSha256 "b" is not a lowercase hex SHA-256/],
    ['a bad baseDiskSha256', { ...DELTA, baseDiskSha256: 'x'.repeat(64) }, /baseDiskSha256/],
  ])('refuses %s with a protocol error that names the job', (_what, download, message) => {
    const e = problem(() => checkDownload({ jobId: 'job-7', download: download as JobDownload }));
    expect(e.kind).toBe('protocol');
    expect(e.message).toMatch(/^the download the gateway offers for job-7 is not what the API promises/);
    expect(e.message).toMatch(message);
  });
});

describe('checkBase', () => {
  const base = { path: '/images/app01.vmdk', format: 'raw' as const, capacity: 512, sha256: 'c'.repeat(64) };

  it('accepts the offloaded disk', () => {
    expect(() => checkBase(base, 'c'.repeat(64), 'job-1')).not.toThrow();
  });

  it('refuses another disk with `wrong-base`, naming both hashes and what to pass', () => {
    const e = problem(() => checkBase(base, 'd'.repeat(64), 'job-1'));
    expect(e.kind).toBe('wrong-base');
    expect(e.message).toBe(
      `wrong base file: /images/app01.vmdk holds a disk with content SHA-256 ${'c'.repeat(64)}, but job job-1 offloaded a disk with ${'d'.repeat(64)}; pass the image that was offloaded (the file given to \`burstgate offload\`) as --base`,
    );
  });
});
