import { describe, expect, it } from 'vitest';
import { CreateOffloadRequest, parseOrThrow, JobId } from '../../../shared/domain/requests';
import { ValidationError } from '../../../shared/domain/errors';
import { newJobId } from '../../../shared/domain/ids';
import { canonicalJson } from '../../../shared/store/job-store';
import { MIN_PART_SIZE, partSizeFor, MAX_PARTS } from '../../../shared/store/staging';

const valid = {
  vmName: 'db-01',
  imageFormat: 'ova',
  imageSizeBytes: 1234,
  target: { cloud: 'aws', region: 'us-east-1', instanceType: 't3.medium' },
};

describe('CreateOffloadRequest', () => {
  it('accepts a valid request', () => {
    // Act
    const req = parseOrThrow(CreateOffloadRequest, valid, 'the offload request');
    // Assess
    expect(req.target).toEqual({ cloud: 'aws', region: 'us-east-1', instanceType: 't3.medium' });
  });

  it('names every wrong field with its path', () => {
    // Prepare
    const bad = {
      ...valid,
      imageFormat: 'qcow2',
      imageSizeBytes: -1,
      target: { ...valid.target, region: 'mars' },
    };
    // Act
    let caught: unknown;
    try {
      parseOrThrow(CreateOffloadRequest, bad, 'the offload request');
    } catch (err) {
      caught = err;
    }
    // Assess
    expect(caught).toBeInstanceOf(ValidationError);
    const paths = (caught as ValidationError).errors?.map((e) => e.path).sort();
    expect(paths).toEqual(['imageFormat', 'imageSizeBytes', 'target.region']);
    expect((caught as ValidationError).status).toBe(400);
  });

  it('rejects unknown fields and a non-object body', () => {
    expect(() => parseOrThrow(CreateOffloadRequest, { ...valid, extra: 1 }, 'x')).toThrow(ValidationError);
    expect(() => parseOrThrow(CreateOffloadRequest, 'nope', 'x')).toThrow(/\(root\)/);
  });
});

describe('job ids', () => {
  it('are valid by the path schema and sort by creation time', () => {
    // Prepare
    const a = newJobId(new Date('2026-01-01T00:00:00Z'));
    const b = newJobId(new Date('2026-01-01T00:00:01Z'));
    // Assess
    expect(JobId.safeParse(a).success).toBe(true);
    expect(a < b).toBe(true);
    expect(JobId.safeParse('job-../../etc').success).toBe(false);
  });
});

describe('canonicalJson', () => {
  it('is the same for objects with keys in another order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: 'x' } })).toBe(
      canonicalJson({ a: { c: 'x', d: [1, { x: 1, y: 2 }] }, b: 1 }),
    );
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: 2 }));
  });
});

describe('partSizeFor', () => {
  it('keeps small images in one minimum-size part and big ones within the part limit', () => {
    expect(partSizeFor(1)).toBe(MIN_PART_SIZE);
    const fiveTiB = 5 * 1024 ** 4;
    const size = partSizeFor(fiveTiB);
    expect(Math.ceil(fiveTiB / size)).toBeLessThanOrEqual(MAX_PARTS);
    expect(size % (1024 * 1024)).toBe(0);
    expect(size).toBeLessThanOrEqual(5 * 1024 ** 3); // S3's largest part
  });
});
