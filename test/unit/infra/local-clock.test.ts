import { describe, expect, it } from 'vitest';
import { LocalClock } from '../../../infra/local/clock';

/** A real time that only moves when the test says so. */
function fakeRealTime(startMs: number) {
  let now = startMs;
  return { read: () => now, pass: (ms: number) => (now += ms) };
}

describe('LocalClock', () => {
  it('follows the real time when no start is given', () => {
    // Prepare
    const real = fakeRealTime(Date.UTC(2026, 0, 1));
    const clock = new LocalClock({ realTime: real.read });
    // Act
    real.pass(1500);
    // Assess
    expect(clock.now().toISOString()).toBe('2026-01-01T00:00:01.500Z');
  });

  it('starts where it is told and keeps flowing with the real time', () => {
    // Prepare
    const real = fakeRealTime(Date.UTC(2026, 0, 1));
    const clock = new LocalClock({ start: new Date('2030-06-01T12:00:00Z'), realTime: real.read });
    // Act
    const first = clock.now().toISOString();
    real.pass(60_000);
    // Assess
    expect(first).toBe('2030-06-01T12:00:00.000Z');
    expect(clock.now().toISOString()).toBe('2030-06-01T12:01:00.000Z');
  });

  it('advances by an offset, is set forward and back, and returns where it now is', () => {
    // Prepare
    const real = fakeRealTime(Date.UTC(2026, 0, 1));
    const clock = new LocalClock({ start: new Date('2030-06-01T00:00:00Z'), realTime: real.read });
    // Act
    const advanced = clock.advance(3 * 86_400_000);
    real.pass(1000);
    const afterFlow = clock.now();
    const setBack = clock.set(new Date('2029-01-01T00:00:00Z'));
    real.pass(250);
    // Assess
    expect(advanced.toISOString()).toBe('2030-06-04T00:00:00.000Z');
    expect(afterFlow.toISOString()).toBe('2030-06-04T00:00:01.000Z');
    expect(setBack.toISOString()).toBe('2029-01-01T00:00:00.000Z');
    expect(clock.now().toISOString()).toBe('2029-01-01T00:00:00.250Z');
  });

  it('tells every listener about each advance and set until it unsubscribes', () => {
    // Prepare
    const real = fakeRealTime(Date.UTC(2026, 0, 1));
    const clock = new LocalClock({ start: new Date('2030-06-01T00:00:00Z'), realTime: real.read });
    const heard: string[] = [];
    const other: string[] = [];
    const unsubscribe = clock.onChange((now) => heard.push(now.toISOString()));
    clock.onChange((now) => other.push(now.toISOString()));
    // Act
    clock.advance(1000);
    clock.set(new Date('2030-07-01T00:00:00Z'));
    unsubscribe();
    clock.advance(1000);
    // Assess
    expect(heard).toEqual(['2030-06-01T00:00:01.000Z', '2030-07-01T00:00:00.000Z']);
    expect(other).toEqual([
      '2030-06-01T00:00:01.000Z',
      '2030-07-01T00:00:00.000Z',
      '2030-07-01T00:00:01.000Z',
    ]);
  });

  it('still tells the other listeners when one throws, then rethrows its error', () => {
    // Prepare
    const clock = new LocalClock();
    const heard: Date[] = [];
    clock.onChange(() => {
      throw new Error('listener broke');
    });
    clock.onChange((now) => heard.push(now));
    // Act
    const act = () => clock.advance(1);
    // Assess
    expect(act).toThrow('listener broke');
    expect(heard).toHaveLength(1);
  });

  it('refuses to advance by a negative or non-finite amount, or to be set to an invalid date', () => {
    // Prepare
    const clock = new LocalClock();
    // Act
    const back = () => clock.advance(-1);
    const forever = () => clock.advance(Number.POSITIVE_INFINITY);
    const invalid = () => clock.set(new Date('not a date'));
    // Assess
    expect(back).toThrow(RangeError);
    expect(forever).toThrow(RangeError);
    expect(invalid).toThrow(RangeError);
  });
});
