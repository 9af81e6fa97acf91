/**
 * A local Amazon EventBridge Scheduler: an HTTP endpoint speaking the real REST-JSON protocol (so
 * `@aws-sdk/client-scheduler` works unchanged; scheduler-api.ts), strict about what it accepts
 * (scheduler-validation.ts), that keeps schedules and groups across restarts (scheduler-store.ts)
 * and fires them on the deployment's LocalClock (scheduler-firing.ts, whose header says how time,
 * retries and catch-up after a restart work).
 *
 * Only templated Step Functions targets are supported: each invocation calls the injected
 * `startExecution(stateMachineArn, name, input)` (the embedded deployment passes a call through an
 * SFNClient to the local Step Functions). Tags and the universal targets are not offered.
 *
 * Local choices where AWS says nothing: UpdateSchedule keeps a schedule's place in time when the
 * expression, its time zone, StartDate and EndDate are unchanged (a re-enabled schedule skips what
 * fell while disabled), and starts afresh otherwise; ListSchedules and ListScheduleGroups list by
 * name (MaxResults default 100); GetSchedule shows the retry policy with the defaults filled in
 * (185 attempts, 86400 s) and ScheduleExpressionTimezone only when one was given; a target without
 * Input gets `{}`; a ClientToken makes a repeated CreateSchedule/CreateScheduleGroup with the same
 * request answer as the first (another request under that name is a ConflictException), and a
 * repeated DeleteSchedule answer 200.
 */
import http from 'node:http';
import { parseScheduleExpression, type ParsedSchedule } from '../../shared/schedules/schedule-expression';
import { LocalClock } from './clock';
import { LOCAL_ACCOUNT_ID, LOCAL_PARTITION, LOCAL_REGION } from './constants';
import { closeServer, listen } from './http-util';
import {
  schedulerRequestListener,
  type ListQuery,
  type Page,
  type SchedulerOperations,
} from './scheduler-api';
import { FiringLoop, isoSeconds } from './scheduler-firing';
import {
  conflictError,
  defaultRetryDelayMs,
  DEFAULT_GROUP,
  notFoundError,
  validationError,
  type GroupRecord,
  type Invocation,
  type ScheduleRecord,
  type SchedulerOptions,
  type ScheduleView,
} from './scheduler-model';
import { SchedulerStore } from './scheduler-store';
import { NAME_PATTERN, requestDigest, validateScheduleRequest, Violations } from './scheduler-validation';

const ARN_PREFIX = `arn:${LOCAL_PARTITION}:scheduler:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}`;
export const scheduleArn = (group: string, name: string) => `${ARN_PREFIX}:schedule/${group}/${name}`;
export const scheduleGroupArn = (group: string) => `${ARN_PREFIX}:schedule-group/${group}`;
/** How many DeleteSchedule client tokens are remembered (a repeated delete answers as the first did). */
const DELETE_TOKENS_KEPT = 1000;

export class LocalScheduler implements SchedulerOperations {
  url = '';
  port = 0;
  readonly clock: LocalClock;
  private readonly server: http.Server;
  private readonly groups = new Map<string, GroupRecord>();
  private readonly book = new Map<string, ScheduleRecord>();
  private readonly parsedCache = new WeakMap<ScheduleRecord, ParsedSchedule | undefined>();
  private readonly deleteTokens = new Map<string, string>();
  private readonly store: SchedulerStore;
  private readonly loop: FiringLoop;
  private readonly log: (line: string) => void;
  private closed = false;
  /** The firing loop runs (startFiring). */
  private firing = false;

  constructor(private readonly opts: SchedulerOptions) {
    this.clock = opts.clock ?? new LocalClock();
    this.log = opts.log ?? (() => undefined);
    this.store = new SchedulerStore(
      opts.stateDir,
      () => ({ groups: [...this.groups.values()], schedules: [...this.book.values()] }),
      this.log,
    );
    this.loop = new FiringLoop(
      {
        records: () => this.book.values(),
        current: (group, name) => this.book.get(key(group, name)),
        parsed: (record) => this.parsed(record),
        changed: () => this.store.save(),
        complete: (record) => {
          if (this.book.get(key(record.GroupName, record.Name)) !== record) return;
          this.book.delete(key(record.GroupName, record.Name));
          this.store.save();
        },
      },
      this.clock,
      opts.startExecution,
      opts.retryDelayMs ?? defaultRetryDelayMs,
      this.log,
    );
    this.server = http.createServer(schedulerRequestListener(this));
  }

  async start(): Promise<this> {
    const saved = await this.store.load();
    for (const g of saved?.groups ?? []) this.groups.set(g.Name, g);
    for (const s of saved?.schedules ?? []) this.book.set(key(s.GroupName, s.Name), s);
    if (!this.groups.has(DEFAULT_GROUP)) {
      const now = this.clock.now();
      this.groups.set(DEFAULT_GROUP, this.newGroup(DEFAULT_GROUP, now));
      this.store.save();
    }
    this.port = await listen(this.server, this.opts.port ?? 0);
    this.url = `http://127.0.0.1:${this.port}`;
    if (!this.opts.deferFiring) this.startFiring();
    return this;
  }

  /** Starts the firing loop (at start, unless `deferFiring`): what came due while stopped fires now. */
  startFiring(): void {
    if (this.firing) return;
    this.firing = true;
    this.loop.start();
  }

  /** Final outcomes so far, in the order they happened (this process only). */
  invocations(): Invocation[] {
    return this.loop.invocations();
  }

  schedules(): ScheduleView[] {
    return [...this.book.values()].sort(byKey).map((r) => {
      const next = this.loop.nextOccurrence(r);
      return {
        arn: r.Arn,
        name: r.Name,
        group: r.GroupName,
        state: r.State,
        expression: r.ScheduleExpression,
        timeZone: r.ScheduleExpressionTimezone ?? 'UTC',
        ...(next ? { nextOccurrence: isoSeconds(next) } : {}),
        ...(r.handled ? { lastHandled: r.handled.toISOString() } : {}),
        pendingRetries: r.pending.length,
      };
    });
  }

  /** Resolves when nothing is due on the clock and no invocation is under way. */
  idle(): Promise<void> {
    return this.loop.idle();
  }

  /** Stops firing (after the invocation under way), the endpoint, and flushes the state file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.loop.close();
    await closeServer(this.server);
    await this.store.flushed();
  }

  // ---------------------------------------------------------------- schedules

  createSchedule(name: string, body: Record<string, unknown>): { ScheduleArn: string } {
    const req = validateScheduleRequest(name, body, this.clock.now());
    this.group(req.group);
    const digest = requestDigest(name, body);
    const existing = this.book.get(key(req.group, name));
    if (existing) {
      if (req.clientToken && existing.clientToken === req.clientToken && existing.requestDigest === digest) {
        return { ScheduleArn: existing.Arn };
      }
      throw conflictError(`Schedule ${name} already exists.`);
    }
    const now = this.clock.now();
    const record: ScheduleRecord = {
      ...req.spec,
      Name: name,
      GroupName: req.group,
      Arn: scheduleArn(req.group, name),
      CreationDate: now,
      LastModificationDate: now,
      ...(req.clientToken ? { clientToken: req.clientToken } : {}),
      requestDigest: digest,
      origin: now,
      pending: [],
    };
    this.parsedCache.set(record, req.parsed);
    this.book.set(key(req.group, name), record);
    this.changed();
    return { ScheduleArn: record.Arn };
  }

  getSchedule(name: string, group: string | undefined): ScheduleRecord {
    return this.schedule(name, group);
  }

  updateSchedule(name: string, body: Record<string, unknown>): { ScheduleArn: string } {
    const req = validateScheduleRequest(name, body, this.clock.now());
    this.group(req.group);
    const old = this.schedule(name, req.group);
    const now = this.clock.now();
    const sameTiming =
      old.ScheduleExpression === req.spec.ScheduleExpression &&
      old.ScheduleExpressionTimezone === req.spec.ScheduleExpressionTimezone &&
      old.StartDate?.getTime() === req.spec.StartDate?.getTime() &&
      old.EndDate?.getTime() === req.spec.EndDate?.getTime();
    const wasFiring = old.State === 'ENABLED' && req.spec.State === 'ENABLED';
    let handled: Date | undefined;
    if (sameTiming) {
      handled =
        wasFiring || req.parsed.kind === 'at'
          ? old.handled
          : new Date(Math.max(old.handled?.getTime() ?? 0, now.getTime()));
    }
    const record: ScheduleRecord = {
      ...req.spec,
      Name: name,
      GroupName: req.group,
      Arn: old.Arn,
      CreationDate: old.CreationDate,
      LastModificationDate: now,
      ...(old.clientToken ? { clientToken: old.clientToken } : {}),
      ...(old.requestDigest ? { requestDigest: old.requestDigest } : {}),
      origin: sameTiming ? old.origin : now,
      ...(handled ? { handled } : {}),
      // Retries of occurrences already taken go on, with the new target.
      pending: old.pending,
    };
    this.parsedCache.set(record, req.parsed);
    this.book.set(key(req.group, name), record);
    this.changed();
    return { ScheduleArn: record.Arn };
  }

  deleteSchedule(name: string, group: string | undefined, clientToken: string | undefined): void {
    const v = new Violations();
    v.str(name, 'name', { required: true, min: 1, max: 64, pattern: NAME_PATTERN });
    const g = v.str(group, 'groupName', { min: 1, max: 64, pattern: NAME_PATTERN }) ?? DEFAULT_GROUP;
    v.str(clientToken, 'clientToken', { min: 1, max: 64, pattern: /^[a-zA-Z0-9-_]+$/ });
    v.check();
    const k = key(g, name);
    if (!this.book.has(k) && clientToken && this.deleteTokens.get(clientToken) === k) return;
    this.schedule(name, g);
    this.book.delete(k);
    if (clientToken) {
      this.deleteTokens.set(clientToken, k);
      if (this.deleteTokens.size > DELETE_TOKENS_KEPT) {
        const oldest = this.deleteTokens.keys().next().value;
        if (oldest !== undefined) this.deleteTokens.delete(oldest);
      }
    }
    this.changed();
  }

  listSchedules(query: ListQuery): Page<ScheduleRecord> {
    if (query.group !== undefined) this.group(query.group);
    const all = [...this.book.values()]
      .filter((r) => query.group === undefined || r.GroupName === query.group)
      .filter((r) => query.prefix === undefined || r.Name.startsWith(query.prefix))
      .filter((r) => query.state === undefined || r.State === query.state)
      .sort(byKey);
    return page(all, query, (r) => key(r.GroupName, r.Name));
  }

  // ---------------------------------------------------------------- groups

  createScheduleGroup(name: string, body: Record<string, unknown>): { ScheduleGroupArn: string } {
    const v = new Violations();
    v.str(name, 'name', { required: true, min: 1, max: 64, pattern: NAME_PATTERN });
    const clientToken = v.str(body.ClientToken, 'clientToken', {
      min: 1,
      max: 64,
      pattern: /^[a-zA-Z0-9-_]+$/,
    });
    const tags = body.Tags === undefined ? undefined : body.Tags;
    if (tags !== undefined && (!Array.isArray(tags) || tags.length > 200)) {
      v.add(tags, 'tags', 'Member must be a list of at most 200 tags');
    }
    v.check();
    const existing = this.groups.get(name);
    if (existing) {
      if (clientToken && existing.clientToken === clientToken) return { ScheduleGroupArn: existing.Arn };
      throw conflictError(`Schedule group ${name} already exists.`);
    }
    const group: GroupRecord = {
      ...this.newGroup(name, this.clock.now()),
      ...(clientToken ? { clientToken } : {}),
      ...(Array.isArray(tags) ? { Tags: tags as GroupRecord['Tags'] } : {}),
    };
    this.groups.set(name, group);
    this.store.save();
    return { ScheduleGroupArn: group.Arn };
  }

  getScheduleGroup(name: string): GroupRecord {
    const v = new Violations();
    v.str(name, 'name', { required: true, min: 1, max: 64, pattern: NAME_PATTERN });
    v.check();
    return this.group(name);
  }

  /** Deletes the group and every schedule in it (the default group cannot be deleted). */
  deleteScheduleGroup(name: string, clientToken: string | undefined): void {
    const v = new Violations();
    v.str(name, 'name', { required: true, min: 1, max: 64, pattern: NAME_PATTERN });
    v.str(clientToken, 'clientToken', { min: 1, max: 64, pattern: /^[a-zA-Z0-9-_]+$/ });
    v.check();
    if (name === DEFAULT_GROUP) throw validationError('The default schedule group cannot be deleted.');
    this.group(name);
    this.groups.delete(name);
    for (const [k, r] of this.book) if (r.GroupName === name) this.book.delete(k);
    this.changed();
  }

  listScheduleGroups(query: ListQuery): Page<GroupRecord> {
    const all = [...this.groups.values()]
      .filter((g) => query.prefix === undefined || g.Name.startsWith(query.prefix))
      .sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
    return page(all, query, (g) => g.Name);
  }

  // ---------------------------------------------------------------- helpers

  private schedule(name: string, group: string | undefined): ScheduleRecord {
    const v = new Violations();
    v.str(name, 'name', { required: true, min: 1, max: 64, pattern: NAME_PATTERN });
    const g = v.str(group, 'groupName', { min: 1, max: 64, pattern: NAME_PATTERN }) ?? DEFAULT_GROUP;
    v.check();
    const record = this.book.get(key(g, name));
    if (!record) throw notFoundError(`Schedule ${name} does not exist.`);
    return record;
  }

  private group(name: string): GroupRecord {
    const group = this.groups.get(name);
    if (!group) throw notFoundError(`Schedule group ${name} does not exist.`);
    return group;
  }

  private newGroup(name: string, now: Date): GroupRecord {
    return { Name: name, Arn: scheduleGroupArn(name), CreationDate: now, LastModificationDate: now };
  }

  /** The parsed expression; a saved one the parser no longer accepts is logged and never fires. */
  private parsed(record: ScheduleRecord): ParsedSchedule | undefined {
    if (!this.parsedCache.has(record)) {
      let parsed: ParsedSchedule | undefined;
      try {
        parsed = parseScheduleExpression(
          record.ScheduleExpression,
          record.ScheduleExpressionTimezone ?? 'UTC',
        );
      } catch (err) {
        this.log(
          `${record.Arn}: ${record.ScheduleExpression} no longer parses (${String(err)}); it will not fire`,
        );
      }
      this.parsedCache.set(record, parsed);
    }
    return this.parsedCache.get(record);
  }

  /** A schedule was created, replaced or deleted: persist, and let the loop look again. */
  private changed(): void {
    this.store.save();
    this.loop.kick();
  }
}

export async function startScheduler(opts: SchedulerOptions): Promise<LocalScheduler> {
  return new LocalScheduler(opts).start();
}

function key(group: string, name: string): string {
  return `${group}/${name}`;
}

function byKey(a: ScheduleRecord, b: ScheduleRecord): number {
  const ka = key(a.GroupName, a.Name);
  const kb = key(b.GroupName, b.Name);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** One page of a sorted list: NextToken is the (base64url) key of the last item returned. */
function page<T>(all: T[], query: ListQuery, keyOf: (item: T) => string): Page<T> {
  let start = 0;
  if (query.token !== undefined) {
    const after = Buffer.from(query.token, 'base64url').toString('utf8');
    if (!after || Buffer.from(after, 'utf8').toString('base64url') !== query.token) {
      throw validationError('The NextToken is not valid.');
    }
    start = all.findIndex((item) => keyOf(item) > after);
    if (start < 0) start = all.length;
  }
  const items = all.slice(start, start + query.max);
  const last = items.at(-1);
  const more = start + query.max < all.length && last !== undefined;
  return { items, ...(more ? { next: Buffer.from(keyOf(last), 'utf8').toString('base64url') } : {}) };
}
