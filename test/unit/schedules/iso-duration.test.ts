/** ISO-8601 durations of schedules, both ways: what is read, what is refused, what is written. */
import { describe, expect, it } from 'vitest';
import { durationSeconds, isoDuration } from '../../../shared/schedules/iso-duration';

describe('durationSeconds', () => {
  it.each([
    ['PT60H', 216_000],
    ['P2DT12H', 216_000],
    ['PT90M', 5400],
    ['PT45S', 45],
    ['P1D', 86_400],
    ['P1DT1H1M1S', 90_061],
    ['PT0S', 0],
  ])('reads %s as %d s', (text, seconds) => {
    // Act / Assess
    expect(durationSeconds(text)).toBe(seconds);
  });

  it.each(['P', 'PT', 'P1DT', 'P1W', 'P1M', 'P1Y', 'PT1.5H', 'pt1h', '60h', '', 'PT1H ', 'P12345D'])(
    'refuses %j (no fixed length, or not ISO-8601)',
    (text) => {
      // Act / Assess
      expect(durationSeconds(text)).toBeUndefined();
    },
  );
});

describe('isoDuration', () => {
  it.each([
    [216_000, 'P2DT12H'],
    [7200, 'PT2H'],
    [600, 'PT10M'],
    [90_061, 'P1DT1H1M1S'],
    [86_400, 'P1D'],
    [0, 'PT0S'],
  ])('writes %d s as %s, which reads back the same', (seconds, text) => {
    // Act
    const written = isoDuration(seconds);
    // Assess
    expect(written).toBe(text);
    expect(durationSeconds(written)).toBe(seconds);
  });
});
