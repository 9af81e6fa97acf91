/** authorizeBearer: the bearer key's lookup, without a table (a store that answers from a map). */
import { describe, expect, it } from 'vitest';
import { authorizeBearer } from '../../../shared/domain/api-keys';

const KEY = 'bg_Qw3rTy0123456789abcdefghijklmnopqrstuvwxyzAB';

function storeOf(keys: Record<string, string>) {
  const asked: string[] = [];
  return {
    asked,
    findApiKey: async (key: string) => {
      asked.push(key);
      return key in keys ? { label: keys[key]! } : undefined;
    },
  };
}

describe('authorizeBearer', () => {
  it('authorizes a known key and names its label', async () => {
    // Prepare
    const store = storeOf({ [KEY]: 'slurm-prod' });
    // Act
    const answer = await authorizeBearer(store, `Bearer ${KEY}`);
    // Assess
    expect(answer).toEqual({ authorized: true, keyLabel: 'slurm-prod' });
    expect(store.asked).toEqual([KEY]);
  });

  it('accepts any case of the scheme and surrounding spaces', async () => {
    const store = storeOf({ [KEY]: 'ci' });
    expect((await authorizeBearer(store, `  bearer   ${KEY} `)).authorized).toBe(true);
  });

  it('denies an unknown key', async () => {
    expect(await authorizeBearer(storeOf({}), `Bearer ${KEY}`)).toEqual({
      authorized: false,
      reason: 'unknown-key',
    });
  });

  it('denies a malformed header without a lookup', async () => {
    // Prepare
    const store = storeOf({ [KEY]: 'ci' });
    // Act
    const answers = await Promise.all(
      [
        undefined,
        '',
        KEY,
        `Basic ${KEY}`,
        'Bearer short',
        `Bearer ${'x'.repeat(513)}`,
        `Bearer ${KEY} extra`,
      ].map((h) => authorizeBearer(store, h)),
    );
    // Assess
    expect(answers.every((a) => !a.authorized && a.reason === 'malformed-authorization')).toBe(true);
    expect(store.asked).toEqual([]);
  });
});
