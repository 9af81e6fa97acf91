/**
 * Webhook signing checked as a receiver checks it (the `standardwebhooks` package), and the retry
 * schedule: the spec's delays with jitter, never sooner than Retry-After, nothing after the eighth.
 */
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { newSecret, webhookHeaders } from '../../../shared/domain/webhooks/signing';
import { RETRY_SECONDS, retryAfterSeconds, retryDelay } from '../../../shared/domain/webhooks/deliveries';

const NOW = new Date();
const BODY = JSON.stringify({ type: 'burstgate.job-state-changed', data: { jobId: 'job-1', to: 'running' } });

describe('webhook signing', () => {
  it('makes headers that standardwebhooks verifies with the secret, and refuses with another', () => {
    // Prepare
    const secret = newSecret();
    // Act
    const headers = webhookHeaders([secret], 'msg_01', NOW, BODY);
    // Assess
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(secret).verify(BODY, headers)).toEqual(JSON.parse(BODY));
    expect(() => new Webhook(newSecret()).verify(BODY, headers)).toThrow();
    expect(() => new Webhook(secret).verify(`${BODY} `, headers)).toThrow(); // one byte changed
  });

  it('signs with every secret given, so a receiver with either verifies during a rotation', () => {
    // Prepare
    const [old, fresh] = [newSecret(), newSecret()];
    // Act
    const headers = webhookHeaders([fresh, old], 'msg_02', NOW, BODY);
    // Assess
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(new Webhook(old).verify(BODY, headers)).toBeTruthy();
    expect(new Webhook(fresh).verify(BODY, headers)).toBeTruthy();
  });

  it('puts the delivery id and the Unix time in the headers, which a stale timestamp fails', () => {
    // Prepare
    const secret = newSecret();
    const stale = new Date(NOW.getTime() - 10 * 60 * 1000);
    // Act
    const headers = webhookHeaders([secret], 'msg_03', stale, BODY);
    // Assess
    expect(headers['webhook-id']).toBe('msg_03');
    expect(headers['webhook-timestamp']).toBe(String(Math.floor(stale.getTime() / 1000)));
    expect(() => new Webhook(secret).verify(BODY, headers)).toThrow(/timestamp/i);
  });
});

describe('the retry schedule', () => {
  it('follows 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h with ±10 % jitter, and stops after the eighth attempt', () => {
    // Act
    const low = RETRY_SECONDS.map((_, i) => retryDelay(i + 1, undefined, () => 0));
    const high = RETRY_SECONDS.map((_, i) => retryDelay(i + 1, undefined, () => 1));
    const middle = RETRY_SECONDS.map((_, i) => retryDelay(i + 1, undefined, () => 0.5));
    // Assess
    expect(middle).toEqual([5, 300, 1800, 7200, 18000, 36000, 36000]);
    expect(low).toEqual([5, 270, 1620, 6480, 16200, 32400, 32400]);
    expect(high).toEqual([6, 330, 1980, 7920, 19800, 39600, 39600]);
    expect(retryDelay(8, undefined, () => 0.5)).toBeUndefined();
  });

  it("waits at least the receiver's Retry-After, in seconds or as a date, capped at a day", () => {
    // Assess
    expect(retryDelay(1, 120, () => 0.5)).toBe(120);
    expect(retryDelay(2, 120, () => 0.5)).toBe(300);
    expect(retryAfterSeconds('90', NOW)).toBe(90);
    expect(retryAfterSeconds(new Date(NOW.getTime() + 30_000).toUTCString(), NOW)).toBeGreaterThanOrEqual(29);
    expect(retryAfterSeconds('999999', NOW)).toBe(86_400);
    expect(retryAfterSeconds('soon', NOW)).toBeUndefined();
    expect(retryAfterSeconds(undefined, NOW)).toBeUndefined();
  });
});
