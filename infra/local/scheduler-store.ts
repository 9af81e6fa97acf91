/**
 * The local EventBridge Scheduler's state in one JSON file, `<stateDir>/scheduler/schedules.json`:
 * the groups, the schedules with what the firing loop keeps on each (the last occurrence it took,
 * the retries waiting), dates as ISO 8601. Every write is a whole new file renamed over the old one,
 * so a crash leaves the previous state or the new one, never half of either. Writes are coalesced:
 * while one is under way, later saves collapse into one more write of the latest state.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { GroupRecord, PendingRetry, ScheduleRecord } from './scheduler-model';

export interface SchedulerState {
  groups: GroupRecord[];
  schedules: ScheduleRecord[];
}

const DATE_KEYS = new Set([
  'CreationDate',
  'LastModificationDate',
  'StartDate',
  'EndDate',
  'origin',
  'handled',
]);

export class SchedulerStore {
  readonly file: string;
  private writing: Promise<void> = Promise.resolve();
  private queued = false;

  constructor(
    stateDir: string,
    private readonly snapshot: () => SchedulerState,
    private readonly log?: (line: string) => void,
  ) {
    this.file = path.join(stateDir, 'scheduler', 'schedules.json');
  }

  /** The saved state; undefined when there is no file yet. */
  async load(): Promise<SchedulerState | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const saved = JSON.parse(text) as { version?: number; groups?: unknown[]; schedules?: unknown[] };
      if (saved.version !== 1) throw new Error(`unknown version ${String(saved.version)}`);
      return {
        groups: (saved.groups ?? []).map((g) => reviveDates<GroupRecord>(g)),
        schedules: (saved.schedules ?? []).map(reviveSchedule),
      };
    } catch (err) {
      throw new Error(`cannot read the saved schedules in ${this.file}: ${(err as Error).message}`);
    }
  }

  /** Asks for a write of the state as it is when the write happens. */
  save(): void {
    if (this.queued) return;
    this.queued = true;
    this.writing = this.writing
      .then(async () => {
        this.queued = false;
        const text = JSON.stringify({ version: 1, ...this.snapshot() }, null, 1);
        await mkdir(path.dirname(this.file), { recursive: true });
        const tmp = `${this.file}.${process.pid}.tmp`;
        await writeFile(tmp, text);
        await rename(tmp, this.file);
      })
      .catch((err: unknown) => this.log?.(`could not save the schedules to ${this.file}: ${String(err)}`));
  }

  /** Resolves once every save asked for so far is on disk (or failed and was logged). */
  async flushed(): Promise<void> {
    let writing: Promise<void>;
    do {
      writing = this.writing;
      await writing;
    } while (writing !== this.writing);
  }
}

function reviveSchedule(raw: unknown): ScheduleRecord {
  const record = reviveDates<ScheduleRecord>(raw);
  record.pending = ((raw as { pending?: unknown[] }).pending ?? []).map((p) => {
    const r = p as { scheduledTime: string; attempt: number; dueAt: string; lastError: string };
    const retry: PendingRetry = {
      scheduledTime: new Date(r.scheduledTime),
      attempt: r.attempt,
      dueAt: new Date(r.dueAt),
      lastError: r.lastError,
    };
    return retry;
  });
  return record;
}

function reviveDates<T>(raw: unknown): T {
  const out: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  for (const key of DATE_KEYS) {
    if (typeof out[key] === 'string') out[key] = new Date(out[key]);
  }
  return out as T;
}
