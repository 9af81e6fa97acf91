/** authorizeBearer and issueApiKey without a table (a store that answers from a map). */
import { describe, expect, it } from 'vitest';
import { authorizeBearer, checkKeyRequest, issueApiKey } from '../../../shared/domain/api-keys';
import { ValidationError } from '../../../shared/domain/errors';
import type { ApiKeyRecord } from '../../../shared/store/api-key-store';

const KEY = 'bg_Qw3rTy0123456789abcdefghijklmnopqrstuvwxyzAB';
const NOW = new Date('2027-03-01T12:00:00.000Z');
const RECORD: ApiKeyRecord = {
  keyId: 'key-01',
  tenant: 'team-a',
  scopes: ['read', 'offload'],
  label: 'slurm-prod',
  createdAt: '2027-01-01T00:00:00.000Z',
};

function storeOf(keys: Record<string, ApiKeyRecord>) {
  const asked: string[] = [];
  return {
    asked,
    find: async (key: string) => {
      asked.push(key);
      return keys[key];
    },
  };
}

describe('authorizeBearer', () => {
  it('authorizes a known key and names its tenant, id and scopes', async () => {
    // Prepare
    const store = storeOf({ [KEY]: RECORD });
    // Act
    const answer = await authorizeBearer(store, `Bearer ${KEY}`, NOW);
    // Assess
    expect(answer).toEqual({
      authorized: true,
      keyLabel: 'slurm-prod',
      caller: { tenant: 'team-a', keyId: 'key-01', scopes: ['read', 'offload'] },
    });
    expect(store.asked).toEqual([KEY]);
  });

  it('takes a key from before tenants as the default tenant, with every scope but admin', async () => {
    const store = storeOf({ [KEY]: { label: 'old', createdAt: '2026-01-01T00:00:00.000Z' } });
    const answer = await authorizeBearer(store, `Bearer ${KEY}`, NOW);
    expect(answer.authorized && answer.caller).toEqual({
      tenant: 'default',
      keyId: 'key-legacy',
      scopes: ['read', 'offload', 'return', 'cancel', 'schedule', 'webhook'],
    });
  });

  it('accepts any case of the scheme and surrounding spaces', async () => {
    const store = storeOf({ [KEY]: RECORD });
    expect((await authorizeBearer(store, `  bearer   ${KEY} `, NOW)).authorized).toBe(true);
  });

  it('denies an unknown, a revoked and an expired key, naming which', async () => {
    // Prepare
    const revoked = storeOf({ [KEY]: { ...RECORD, revokedAt: '2027-02-01T00:00:00.000Z' } });
    const disabled = storeOf({ [KEY]: { ...RECORD, disabled: true } });
    const expired = storeOf({ [KEY]: { ...RECORD, expiresAt: NOW.toISOString() } });
    const later = storeOf({ [KEY]: { ...RECORD, expiresAt: '2027-03-01T12:00:01.000Z' } });
    // Act
    const answers = await Promise.all(
      [storeOf({}), revoked, disabled, expired, later].map((s) => authorizeBearer(s, `Bearer ${KEY}`, NOW)),
    );
    // Assess
    expect(answers.map((a) => (a.authorized ? 'ok' : a.reason))).toEqual([
      'unknown-key',
      'revoked-key',
      'revoked-key',
      'expired-key',
      'ok',
    ]);
    expect(answers[1]).toEqual({ authorized: false, reason: 'revoked-key', keyId: 'key-01' });
  });

  it('denies a malformed header without a lookup', async () => {
    // Prepare
    const store = storeOf({ [KEY]: RECORD });
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
      ].map((h) => authorizeBearer(store, h, NOW)),
    );
    // Assess
    expect(answers.every((a) => !a.authorized && a.reason === 'malformed-authorization')).toBe(true);
    expect(store.asked).toEqual([]);
  });
});

describe('issueApiKey', () => {
  it('stores a new key under its tenant with its scopes and expiry, and returns the key once', async () => {
    // Prepare
    const put: Array<[string, ApiKeyRecord]> = [];
    const store = { put: async (key: string, record: ApiKeyRecord) => void put.push([key, record]) };
    // Act
    const made = await issueApiKey(
      store,
      {
        tenant: 'team-b',
        scopes: ['read', 'return', 'read'],
        label: 'ci',
        expiresAt: new Date('2027-06-01T00:00:00Z'),
      },
      NOW,
    );
    // Assess
    expect(made.key).toMatch(/^bg_[A-Za-z0-9_-]{43}$/);
    expect(made.record).toEqual({
      keyId: expect.stringMatching(/^key-[0-9a-z]{26}$/),
      tenant: 'team-b',
      scopes: ['read', 'return'],
      label: 'ci',
      createdAt: NOW.toISOString(),
      expiresAt: '2027-06-01T00:00:00.000Z',
    });
    expect(put).toEqual([[made.key, made.record]]);
  });

  it('refuses a bad tenant, unknown scopes, no scopes, an empty label and a past expiry, naming each', () => {
    // Act
    const attempt = () =>
      checkKeyRequest(
        {
          tenant: 'Team A',
          scopes: ['read', 'sudo'],
          label: '',
          expiresAt: new Date('2027-01-01T00:00:00Z'),
        },
        NOW,
      );
    // Assess
    expect(attempt).toThrow(ValidationError);
    try {
      attempt();
    } catch (err) {
      expect((err as ValidationError).errors?.map((e) => e.path)).toEqual([
        'tenant',
        'scopes',
        'label',
        'expires',
      ]);
      expect((err as ValidationError).message).toContain("unknown 'sudo'");
    }
    expect(() => checkKeyRequest({ tenant: 'ok', scopes: [], label: 'x' }, NOW)).toThrow(
      /at least one of read/,
    );
  });
});
