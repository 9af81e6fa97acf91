/**
 * The movable clock of the embedded deployment. Time flows as it does in reality (`now()` is the real
 * time plus an offset), but a test or a demo can move it forward (`advance`) or anywhere (`set`)
 * to make what is scheduled for next Friday happen now. Services that wait for a time (the local
 * EventBridge Scheduler) listen with `onChange` and look again whenever it moves.
 */

export interface LocalClockOptions {
  /** Where `now()` starts (default: the real time). */
  start?: Date;
  /** The real time in ms (default `Date.now`); tests pass a fixed source. */
  realTime?: () => number;
}

export type ClockListener = (now: Date) => void;

export class LocalClock {
  private offsetMs: number;
  private readonly realTime: () => number;
  private readonly listeners = new Set<ClockListener>();

  constructor(opts: LocalClockOptions = {}) {
    this.realTime = opts.realTime ?? Date.now;
    this.offsetMs = opts.start ? opts.start.getTime() - this.realTime() : 0;
  }

  /** The real time plus the offset: it keeps flowing between moves. */
  now(): Date {
    return new Date(this.realTime() + this.offsetMs);
  }

  /** Moves the clock forward by `ms` (≥ 0) and tells the listeners. */
  advance(ms: number): Date {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`advance takes a finite number of ms ≥ 0, not ${ms}; use set() to go back`);
    }
    this.offsetMs += ms;
    return this.changed();
  }

  /** Puts the clock at `date` (forward or back) and tells the listeners. */
  set(date: Date): Date {
    if (Number.isNaN(date.getTime())) throw new RangeError('set takes a valid Date');
    this.offsetMs = date.getTime() - this.realTime();
    return this.changed();
  }

  /** Calls `listener` after every advance/set; returns the function that unsubscribes it. */
  onChange(listener: ClockListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Every listener hears the change even if one throws; the first error is rethrown after. */
  private changed(): Date {
    const now = this.now();
    const errors: unknown[] = [];
    for (const listener of [...this.listeners]) {
      try {
        listener(new Date(now));
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw errors[0];
    return now;
  }
}
