import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../shared/domain/errors';
import { ImageCachePath } from '../../../shared/domain/image-cache-view';
import { parseOrThrow } from '../../../shared/domain/requests';

/** The ValidationError parsing `value` throws (fails the test when it parses). */
function rejection(value: unknown): ValidationError {
  try {
    parseOrThrow(ImageCachePath, value, 'the path');
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return err as ValidationError;
  }
  throw new Error(`expected ${JSON.stringify(value)} to be rejected`);
}

describe('ImageCachePath', () => {
  it('accepts AWS regions and the VM names POST /offloads accepts (spaces, dots, underscores, dashes)', () => {
    // Prepare
    const paths = [
      { region: 'us-east-1', vmName: 'db-01' },
      { region: 'us-gov-west-1', vmName: 'My VM 2.0_final-copy' },
      { region: 'eu-central-2', vmName: 'x'.repeat(128) },
    ];

    // Act
    const parsed = paths.map((p) => parseOrThrow(ImageCachePath, p, 'the path'));

    // Assess
    expect(parsed).toEqual(paths);
  });

  it('names the wrong field: region, vmName, or both', () => {
    // Act
    const badRegion = rejection({ region: 'mars', vmName: 'vm' });
    const badName = rejection({ region: 'us-east-1', vmName: '.hidden' });
    const tooLong = rejection({ region: 'us-east-1', vmName: 'x'.repeat(129) });
    const slash = rejection({ region: 'us-east-1', vmName: 'a/b' });
    const none = rejection({});

    // Assess
    expect(badRegion.status).toBe(400);
    expect(badRegion.errors?.map((e) => e.path)).toEqual(['region']);
    expect(badRegion.detail).toBe('the path is not valid: region: an AWS region name such as us-east-1');
    expect(badName.errors?.map((e) => e.path)).toEqual(['vmName']);
    expect(badName.detail).toContain('vmName: letters, digits, dot, underscore, dash and space');
    expect(tooLong.errors?.map((e) => e.path)).toEqual(['vmName']);
    expect(slash.errors?.map((e) => e.path)).toEqual(['vmName']);
    expect(none.errors?.map((e) => e.path).sort()).toEqual(['region', 'vmName']);
  });
});
