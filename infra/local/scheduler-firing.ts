/**
 * The firing loop of the local EventBridge Scheduler: it runs on the deployment's LocalClock, as a
 * discrete-event simulation of the service.
 *
 * - Each enabled schedule's next occurrence is computed from its expression (in its time zone,
 *   within StartDate/EndDate, which one-time schedules ignore) after the last occurrence it took.
 * - One timer is armed for the earliest thing due (an occurrence or a retry), unref'd; it is
 *   re-armed whenever a schedule changes and whenever the clock moves. There is no polling.
 * - Everything due is handled one at a time in order of its due time (an occurrence is due at its
 *   scheduled time), so moving the clock past three Fridays fires the three Friday occurrences,
 *   oldest first, each once: time the clock skipped is treated as time that passed with the service up.
 * - An attempt starts a Step Functions execution with the target's Input, its context attributes
 *   replaced. A failed attempt is retried after a backoff (1 s doubling, at most 5 min; an option),
 *   counted in clock time from the attempt, while both MaximumRetryAttempts and
 *   MaximumEventAgeInSeconds (from the scheduled time) allow it; then the occurrence is recorded
 *   `failed` and dropped (AWS would hand it to a dead-letter queue; none is delivered locally). Every
 *   failure is retried, whatever the error.
 * - A flexible time window is not used: locally the target is invoked at the scheduled time, where
 *   AWS picks a time inside the window.
 *
 * Stopping and starting again (catch-up): nothing fires while the process is stopped. The model is
 * that the target was unavailable meanwhile and the retry policy kept trying, so an occurrence that
 * came due while stopped is invoked on start if its age (clock now - scheduled time) is still within
 * the target's MaximumEventAgeInSeconds, oldest first, each once; an older one is recorded `expired`
 * and not invoked. Retries that were waiting resume the same way (given up as `failed` when too old).
 * The same rule covers a one-time schedule created or updated with a time already past: invoked at
 * once when within the maximum age, `expired` otherwise.
 */
import { randomBytes } from 'node:crypto';
import type { ParsedSchedule } from '../../shared/schedules/schedule-expression';
import type { LocalClock } from './clock';
import type { Invocation, PendingRetry, ScheduleRecord, StartExecution } from './scheduler-model';

/** What the loop needs from the schedule book (LocalScheduler). */
export interface FiringHost {
  records(): Iterable<ScheduleRecord>;
  /** The record now stored under the group and name (a new object after an update), if any. */
  current(group: string, name: string): ScheduleRecord | undefined;
  parsed(record: ScheduleRecord): ParsedSchedule | undefined;
  /** The record's loop state changed: persist it. */
  changed(): void;
  /** ActionAfterCompletion DELETE: the schedule is complete. */
  complete(record: ScheduleRecord): void;
}

type Due =
  | { kind: 'occurrence'; record: ScheduleRecord; at: Date }
  | { kind: 'retry'; record: ScheduleRecord; retry: PendingRetry; at: Date };

const MIN_DATE = new Date(-8.64e15);
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Past this many expired occurrences in a row, a schedule's backlog is skipped in one step. */
const MAX_EXPIRED_RECORDS = 100;

export class FiringLoop {
  private readonly records: Invocation[] = [];
  private readonly nextCache = new WeakMap<ScheduleRecord, Date | undefined>();
  private readonly expiredStreak = new WeakMap<ScheduleRecord, number>();
  private timer: NodeJS.Timeout | undefined;
  private pumping: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  private closing = false;
  /** The clock time the loop started: what came due before it came due while stopped. */
  private startedAt = MIN_DATE;

  constructor(
    private readonly host: FiringHost,
    private readonly clock: LocalClock,
    private readonly startExecution: StartExecution,
    private readonly retryDelayMs: (attempt: number) => number,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    this.startedAt = this.clock.now();
    for (const record of this.host.records()) this.resumeRetries(record);
    this.unsubscribe = this.clock.onChange(() => this.kick());
    this.kick();
  }

  invocations(): Invocation[] {
    return this.records.map((r) => ({ ...r }));
  }

  /** The next occurrence of an enabled schedule after the last one it took. */
  nextOccurrence(record: ScheduleRecord): Date | undefined {
    if (record.State !== 'ENABLED') return undefined;
    if (!this.nextCache.has(record)) this.nextCache.set(record, this.following(record));
    return this.nextCache.get(record);
  }

  /** Something changed (a schedule, the clock): handle what is due now and re-arm the timer. */
  kick(): void {
    if (this.closing || this.pumping) return;
    this.pumping = this.pump()
      .catch((err: unknown) => this.log(`the firing loop stopped on an error: ${String(err)}`))
      .finally(() => {
        this.pumping = undefined;
        this.arm();
      });
  }

  /** Resolves when nothing is due and nothing is being handled. */
  async idle(): Promise<void> {
    for (;;) {
      if (this.pumping) await this.pumping;
      else if (!this.closing && this.dueNow()) this.kick();
      else return;
    }
  }

  /** Stops the loop; resolves once the invocation under way (if any) has ended. */
  async close(): Promise<void> {
    this.closing = true;
    this.unsubscribe?.();
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.pumping;
  }

  private async pump(): Promise<void> {
    for (;;) {
      if (this.closing) return;
      const due = this.dueNow();
      if (!due) return;
      if (due.kind === 'occurrence') await this.occurrence(due.record, due.at);
      else await this.retry(due.record, due.retry);
    }
  }

  private dueNow(): Due | undefined {
    const due = this.earliest();
    return due && due.at.getTime() <= this.clock.now().getTime() ? due : undefined;
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closing) return;
    const due = this.earliest();
    if (!due) return;
    const delay = Math.min(Math.max(due.at.getTime() - this.clock.now().getTime(), 0), MAX_TIMER_MS);
    this.timer = setTimeout(() => this.kick(), delay);
    this.timer.unref();
  }

  /** The earliest occurrence or retry of all schedules (ties: the older occurrence, then the ARN). */
  private earliest(): Due | undefined {
    let best: Due | undefined;
    const better = (a: Due, b: Due | undefined) => {
      if (!b) return true;
      const d = a.at.getTime() - b.at.getTime();
      if (d !== 0) return d < 0;
      const sa = a.kind === 'retry' ? a.retry.scheduledTime : a.at;
      const sb = b.kind === 'retry' ? b.retry.scheduledTime : b.at;
      if (sa.getTime() !== sb.getTime()) return sa.getTime() < sb.getTime();
      return a.record.Arn < b.record.Arn;
    };
    for (const record of this.host.records()) {
      const at = this.nextOccurrence(record);
      if (at) {
        const due: Due = { kind: 'occurrence', record, at };
        if (better(due, best)) best = due;
      }
      for (const retry of record.pending) {
        const due: Due = { kind: 'retry', record, retry, at: retry.dueAt };
        if (better(due, best)) best = due;
      }
    }
    return best;
  }

  /** The first occurrence after the last one taken (rate and cron count from the origin before any). */
  private following(record: ScheduleRecord): Date | undefined {
    const parsed = this.host.parsed(record);
    if (!parsed) return undefined;
    if (parsed.kind === 'at') return parsed.next(record.handled ?? MIN_DATE);
    return parsed.next(record.handled ?? record.origin, {
      ...(record.StartDate ? { start: record.StartDate } : {}),
      ...(record.EndDate ? { end: record.EndDate } : {}),
      origin: record.origin,
    });
  }

  /** When an attempt due at `due` happens: not before the loop started nor before the schedule was set. */
  private attemptTime(record: ScheduleRecord, due: Date): number {
    return Math.max(due.getTime(), this.startedAt.getTime(), record.origin.getTime());
  }

  private async occurrence(record: ScheduleRecord, scheduled: Date): Promise<void> {
    const at = this.attemptTime(record, scheduled);
    const maxAgeMs = record.Target.RetryPolicy.MaximumEventAgeInSeconds * 1000;
    this.take(record, scheduled);
    if (at - scheduled.getTime() > maxAgeMs) {
      this.finish(record, scheduled, 0, 'expired', {
        error: `not invoked: ${Math.round((at - scheduled.getTime()) / 1000)} s old, over MaximumEventAgeInSeconds ${maxAgeMs / 1000}`,
      });
      const streak = (this.expiredStreak.get(record) ?? 0) + 1;
      this.expiredStreak.set(record, streak);
      if (streak >= MAX_EXPIRED_RECORDS) {
        // A long backlog (rate(1 minute) stopped for a month): skip to the first occurrence young enough.
        this.take(record, new Date(Math.max(scheduled.getTime(), at - maxAgeMs - 1)));
        this.log(`${record.Arn}: more occurrences before ${new Date(at - maxAgeMs).toISOString()} expired`);
        this.expiredStreak.delete(record);
      }
      this.completeIfDone(record);
      return;
    }
    this.expiredStreak.delete(record);
    await this.attempt(record, scheduled, 1, at);
  }

  private async retry(record: ScheduleRecord, retry: PendingRetry): Promise<void> {
    record.pending = record.pending.filter((p) => p !== retry);
    this.host.changed();
    await this.attempt(record, retry.scheduledTime, retry.attempt, this.attemptTime(record, retry.dueAt));
  }

  private take(record: ScheduleRecord, occurrence: Date): void {
    record.handled = occurrence;
    this.nextCache.delete(record);
    this.host.changed();
  }

  private async attempt(record: ScheduleRecord, scheduled: Date, attempt: number, at: number): Promise<void> {
    const executionId = randomBytes(8).toString('hex');
    const input = contextInput(record.Target.Input ?? '{}', {
      'schedule-arn': record.Arn,
      'scheduled-time': isoSeconds(scheduled),
      'execution-id': executionId,
      'attempt-number': String(attempt),
    });
    let outcome: { executionArn: string } | { error: string };
    try {
      outcome = await this.startExecution(
        record.Target.Arn,
        executionName(record.Name, scheduled, executionId),
        input,
      );
    } catch (err) {
      outcome = { error: errorText(err) };
    }
    // The schedule may have been updated (a new record) or deleted while the attempt was under way.
    const live = this.host.current(record.GroupName, record.Name);
    if ('executionArn' in outcome) {
      this.finish(live ?? record, scheduled, attempt, 'started', { executionArn: outcome.executionArn });
      this.log(
        `${record.Arn} ${isoSeconds(scheduled)}: started ${outcome.executionArn} (attempt ${attempt})`,
      );
    } else {
      const policy = (live ?? record).Target.RetryPolicy;
      const dueAt = at + this.retryDelayMs(attempt);
      if (
        live &&
        attempt - 1 < policy.MaximumRetryAttempts &&
        dueAt - scheduled.getTime() <= policy.MaximumEventAgeInSeconds * 1000
      ) {
        live.pending.push({
          scheduledTime: scheduled,
          attempt: attempt + 1,
          dueAt: new Date(dueAt),
          lastError: outcome.error,
        });
        this.host.changed();
        this.log(
          `${record.Arn} ${isoSeconds(scheduled)}: attempt ${attempt} failed (${outcome.error}); retry due`,
        );
        return;
      }
      this.finish(live ?? record, scheduled, attempt, 'failed', {
        error: live ? outcome.error : `${outcome.error}; the schedule was deleted`,
      });
      this.log(
        `${record.Arn} ${isoSeconds(scheduled)}: failed after ${attempt} attempt(s): ${outcome.error}`,
      );
    }
    if (live) this.completeIfDone(live);
  }

  private finish(
    record: ScheduleRecord,
    scheduled: Date,
    attempt: number,
    outcome: Invocation['outcome'],
    extra: { executionArn?: string; error?: string },
  ): void {
    this.records.push({
      scheduleArn: record.Arn,
      name: record.Name,
      group: record.GroupName,
      scheduledTime: isoSeconds(scheduled),
      firedAt: this.clock.now().toISOString(),
      attempt,
      outcome,
      ...extra,
    });
    if (outcome === 'expired') this.log(`${record.Arn} ${isoSeconds(scheduled)}: expired`);
  }

  /** ActionAfterCompletion DELETE: gone once no occurrence is left and no retry waits. */
  private completeIfDone(record: ScheduleRecord): void {
    if (record.ActionAfterCompletion !== 'DELETE' || record.pending.length > 0) return;
    if (this.following(record) !== undefined) return;
    this.log(`${record.Arn}: complete, deleted (ActionAfterCompletion DELETE)`);
    this.host.complete(record);
  }

  /** On start: retries that waited while the process was stopped are given up when too old. */
  private resumeRetries(record: ScheduleRecord): void {
    const now = this.startedAt.getTime();
    const maxAgeMs = record.Target.RetryPolicy.MaximumEventAgeInSeconds * 1000;
    const stale = record.pending.filter((p) => now - p.scheduledTime.getTime() > maxAgeMs);
    if (stale.length === 0) return;
    record.pending = record.pending.filter((p) => !stale.includes(p));
    for (const p of stale) {
      this.finish(record, p.scheduledTime, p.attempt - 1, 'failed', {
        error: `${p.lastError}; MaximumEventAgeInSeconds passed while the scheduler was stopped`,
      });
    }
    this.host.changed();
  }
}

/** The Input with the context attributes replaced (user guide: "Adding context attributes"). */
export function contextInput(input: string, values: Record<string, string>): string {
  let out = input;
  for (const [key, value] of Object.entries(values)) out = out.replaceAll(`<aws.scheduler.${key}>`, value);
  return out;
}

/** ISO 8601 UTC in whole seconds, as `<aws.scheduler.scheduled-time>` shows it (2022-03-22T18:59:43Z). */
export function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * A Step Functions execution name unique per attempt and valid everywhere (≤ 80 of [A-Za-z0-9_-]):
 * `<schedule name, 40 at most>-<scheduled time, 20271022T160000Z>-<execution id>`.
 */
export function executionName(scheduleName: string, scheduled: Date, executionId: string): string {
  const name = scheduleName.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40);
  const time = isoSeconds(scheduled).replace(/[-:]/g, '');
  return `${name}-${time}-${executionId}`;
}

function errorText(err: unknown): string {
  if (err instanceof Error)
    return err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
  return String(err);
}
