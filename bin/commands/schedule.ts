/**
 * `burstgate schedule create|list|show|pause|resume|delete|preview|prestage`: burst windows through
 * /schedules. Durations are given as the other commands take them (60h, 2h, 10m) and sent as
 * ISO-8601; times show in UTC and in the schedule's zone. `prestage` is in schedule-prestage.ts.
 */
import { readFile } from 'node:fs/promises';
import { isoDuration } from '../../shared/schedules/iso-duration';
import { renderPreview, renderSchedule, renderScheduleTable } from '../../shared/client/schedules';
import type { CreateScheduleRequest, ScheduleView } from '../../shared/client/types';
import {
  GATEWAY_HELP,
  GATEWAY_OPTIONS,
  clientFrom,
  noPositionals,
  onePositional,
  parse,
  positiveInt,
} from '../support/args';
import { printUsage, type Command } from '../support/command';
import { CliError, UsageError } from '../support/errors';
import type { Output } from '../support/output';
import { TARGET_OPTIONS, targetFlags } from '../support/target-flags';
import { INSTANT_HELP, timeFlags, type TimeFlags } from '../support/time-flags';
import { PRESTAGE_HELP, prestage } from './schedule-prestage';

export const command: Command = {
  usage: `Usage: burstgate schedule create <name> --vm VM [--vm VM...] (--cron EXPR --tz ZONE | --at T)
                                (--duration D | --closes-after D) [options]
       burstgate schedule create --file schedule.json
       burstgate schedule list
       burstgate schedule show <schedule> [--count N]
       burstgate schedule pause|resume|delete <schedule>
       burstgate schedule preview --cron EXPR --tz ZONE [--count N] [--after T] [--duration D]
       burstgate schedule prestage <schedule> <image> [--name VM] [--incremental]

A schedule opens burst windows: at each opening its VMs launch in the cloud (pre-staged before it,
so that launching is the only work left), and each is home by the closing (its lease's return-by).
<schedule> is its id (sch-...) or name. Times show in UTC and in the schedule's zone.

create:
  --vm VM             a VM of the window (repeat for more); all get the same target and source
  --source S          upload (default): the on-prem side uploads the current image before each
                      window (schedule prestage); image-cache: the VM's cached image (AWS direct)
  --cron EXPR         when windows open: AWS's six fields, cron(0 18 ? * 6 *) or 0 18 ? * 6 *
                      (day-of-week 1 is Sunday; ?, L, W and # allowed)
  --tz ZONE           the IANA zone the cron is read in (Europe/Berlin); with --at, the zone its
                      times show in and a local --at is read in
  --at T              one window instead, opening at T
  --duration D        how long a window stays open, in elapsed time (60h)
  --closes-after D    ...or in wall-clock time in the zone: Friday 18:00 + 60h closes Monday 06:00
                      local even when the clocks change in between
  --prestage-lead D   how long before the opening jobs are made and the upload opens (default 2h)
  --prestage-margin D the images must be staged this long before it, or a Window At Risk event
                      goes out (default 10m)
  --on-missed M       the gateway was down at an opening: open-late (default) or skip
  --callback-url URL  the gateway calls it with the window's events
  --file F            the POST /schedules body as JSON (VMs with different targets)
  target: --cloud aws|azure and its flags, as \`burstgate offload\` takes them
show:      --count N  the next N windows (default 5)
preview:   --count N  openings to show (default 5); --after T from then (default now);
           --duration D | --closes-after D to show the closings too
  --json              print what the API returns

${PRESTAGE_HELP}

${INSTANT_HELP}
${GATEWAY_HELP}`,

  async run(args, o) {
    const [sub, ...rest] = args;
    if (sub === '--help' || sub === '-h') return printUsage(o, command);
    if (sub === undefined || sub.startsWith('-')) {
      throw new UsageError('schedule', `missing what to do: ${Object.keys(SUBCOMMANDS).join(', ')}`);
    }
    const run = Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined;
    if (!run) {
      throw new UsageError(
        'schedule',
        `unknown subcommand '${sub}': use ${Object.keys(SUBCOMMANDS).join(', ')}`,
      );
    }
    return run(rest, o);
  },
};

const JSON_OPTION = { json: { type: 'boolean' } } as const;
const LENGTH_OPTIONS = { duration: { type: 'string' }, 'closes-after': { type: 'string' } } as const;
/** `create`'s flags that make the request (none of them goes with --file, which holds it all). */
const RULE_OPTIONS = {
  ...TARGET_OPTIONS,
  ...LENGTH_OPTIONS,
  vm: { type: 'string', multiple: true },
  source: { type: 'string' },
  cron: { type: 'string' },
  tz: { type: 'string' },
  at: { type: 'string' },
  'prestage-lead': { type: 'string' },
  'prestage-margin': { type: 'string' },
  'on-missed': { type: 'string' },
  'callback-url': { type: 'string' },
} as const;

const SUBCOMMANDS: Record<string, (args: string[], o: Output) => Promise<number>> = {
  create,
  list,
  show,
  pause: (args, o) => setState('pause', 'paused', args, o),
  resume: (args, o) => setState('resume', 'active', args, o),
  delete: remove,
  preview,
  prestage: (args, o) => prestage(args, o, command),
};

function print(o: Output, json: boolean | undefined, view: ScheduleView, headline?: string): number {
  if (json) {
    o.out(JSON.stringify(view, null, 2));
    return 0;
  }
  if (headline) o.out(headline);
  o.out(renderSchedule(view));
  return 0;
}

/** `60h` → `PT60H`: a CLI duration as the API takes it. */
function isoFlag(flags: TimeFlags, flag: string, value: string | undefined): string | undefined {
  return value === undefined ? undefined : isoDuration(flags.duration(flag, value));
}

/** The window's length from --duration or --closes-after. */
function lengthFlags(
  where: string,
  flags: TimeFlags,
  values: { duration?: string; 'closes-after'?: string },
): Pick<CreateScheduleRequest, 'duration' | 'closesAfter'> {
  if (values.duration !== undefined && values['closes-after'] !== undefined) {
    throw new UsageError(
      where,
      '--duration and --closes-after both given: pass one (elapsed, or wall-clock time)',
    );
  }
  const duration = isoFlag(flags, '--duration', values.duration);
  const closesAfter = isoFlag(flags, '--closes-after', values['closes-after']);
  return { ...(duration ? { duration } : {}), ...(closesAfter ? { closesAfter } : {}) };
}

/** `0 18 ? * 6 *` → `cron(0 18 ? * 6 *)`. */
const cronText = (expr: string): string => (/^\s*cron\(/.test(expr) ? expr.trim() : `cron(${expr.trim()})`);

async function create(args: string[], o: Output): Promise<number> {
  const where = 'schedule create';
  const { values, positionals } = parse(where, args, {
    ...GATEWAY_OPTIONS,
    ...JSON_OPTION,
    ...RULE_OPTIONS,
    file: { type: 'string' },
  });
  if (values.help) return printUsage(o, command);
  const req =
    values.file !== undefined
      ? await requestFile(where, values, positionals)
      : createRequest(where, o, values, positionals);
  const client = await clientFrom(o, values);
  const view = await client.createSchedule(req);
  const first = view.next[0];
  return print(o, values.json, view, `schedule ${view.name} created${first ? '' : ' (no window ahead)'}`);
}

/** `--file`: the body as is (the gateway checks it); no other schedule flag goes with it. */
async function requestFile(
  where: string,
  values: Record<string, unknown>,
  positionals: string[],
): Promise<CreateScheduleRequest> {
  const clash = Object.keys(RULE_OPTIONS).find((k) => values[k] !== undefined);
  if (clash)
    throw new UsageError(where, `--file and --${clash} both given: the file holds the whole schedule`);
  noPositionals(where, positionals);
  const path = String(values.file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new CliError(
      `cannot read --file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  try {
    return JSON.parse(text) as CreateScheduleRequest;
  } catch (e) {
    throw new CliError(`--file ${path} is not JSON: ${(e as Error).message}`);
  }
}

function createRequest(
  where: string,
  o: Output,
  values: {
    vm?: string[];
    source?: string;
    cron?: string;
    tz?: string;
    at?: string;
    duration?: string;
    'closes-after'?: string;
    'prestage-lead'?: string;
    'prestage-margin'?: string;
    'on-missed'?: string;
    'callback-url'?: string;
  } & Parameters<typeof targetFlags>[1],
  positionals: string[],
): CreateScheduleRequest {
  const name = onePositional(where, positionals, 'the schedule name (burstgate schedule create <name> ...)');
  if (!values.vm?.length) throw new UsageError(where, 'missing --vm VM: which VM the windows run');
  const source = values.source ?? 'upload';
  if (source !== 'upload' && source !== 'image-cache') {
    throw new UsageError(where, `--source must be upload or image-cache, not '${source}'`);
  }
  if (values.cron !== undefined && values.at !== undefined) {
    throw new UsageError(where, '--cron and --at both given: pass one (recurring windows, or one window)');
  }
  if (values.cron === undefined && values.at === undefined) {
    throw new UsageError(where, 'missing --cron EXPR --tz ZONE (recurring windows) or --at T (one window)');
  }
  if (values.cron !== undefined && values.tz === undefined) {
    throw new UsageError(
      where,
      'missing --tz ZONE: the time zone the cron expression is read in (Europe/Berlin)',
    );
  }
  const flags = timeFlags(where, o, values.tz);
  const length = lengthFlags(where, flags, values);
  if (!length.duration && !length.closesAfter) {
    throw new UsageError(where, 'missing --duration D or --closes-after D: how long a window stays open');
  }
  const onMissed = values['on-missed'];
  if (onMissed !== undefined && onMissed !== 'open-late' && onMissed !== 'skip') {
    throw new UsageError(where, `--on-missed must be open-late or skip, not '${onMissed}'`);
  }
  const target = targetFlags(where, values);
  const lead = isoFlag(flags, '--prestage-lead', values['prestage-lead']);
  const margin = isoFlag(flags, '--prestage-margin', values['prestage-margin']);
  return {
    name,
    vms: values.vm.map((vmName) => ({ vmName, target, source })),
    window:
      values.cron !== undefined
        ? { cron: cronText(values.cron), timeZone: flags.zone.name }
        : {
            at: flags.instant('--at', values.at!).toISOString(),
            ...(values.tz ? { timeZone: flags.zone.name } : {}),
          },
    ...length,
    ...(lead || margin ? { prestage: { ...(lead ? { lead } : {}), ...(margin ? { margin } : {}) } } : {}),
    ...(onMissed ? { onMissed } : {}),
    ...(values['callback-url'] ? { callbackUrl: values['callback-url'] } : {}),
  };
}

async function list(args: string[], o: Output): Promise<number> {
  const { values, positionals } = parse('schedule list', args, { ...GATEWAY_OPTIONS, ...JSON_OPTION });
  if (values.help) return printUsage(o, command);
  noPositionals('schedule list', positionals);
  const views = await (await clientFrom(o, values)).listSchedules();
  o.out(values.json ? JSON.stringify(views, null, 2) : renderScheduleTable(views));
  return 0;
}

async function show(args: string[], o: Output): Promise<number> {
  const where = 'schedule show';
  const { values, positionals } = parse(where, args, {
    ...GATEWAY_OPTIONS,
    ...JSON_OPTION,
    count: { type: 'string' },
  });
  if (values.help) return printUsage(o, command);
  const ref = onePositional(where, positionals, 'the schedule (burstgate schedule show <id-or-name>)');
  const count = positiveInt(where, 'count', values.count, 5);
  const view = await (await clientFrom(o, values)).getSchedule(ref, count);
  return print(o, values.json, view);
}

async function setState(
  verb: string,
  state: 'active' | 'paused',
  args: string[],
  o: Output,
): Promise<number> {
  const where = `schedule ${verb}`;
  const { values, positionals } = parse(where, args, { ...GATEWAY_OPTIONS, ...JSON_OPTION });
  if (values.help) return printUsage(o, command);
  const ref = onePositional(where, positionals, `the schedule (burstgate ${where} <id-or-name>)`);
  const view = await (await clientFrom(o, values)).updateSchedule(ref, { state });
  const said =
    state === 'paused'
      ? `schedule ${view.name} paused: no window opens until \`burstgate schedule resume ${view.name}\``
      : `schedule ${view.name} resumed`;
  return print(o, values.json, view, said);
}

async function remove(args: string[], o: Output): Promise<number> {
  const where = 'schedule delete';
  const { values, positionals } = parse(where, args, { ...GATEWAY_OPTIONS, ...JSON_OPTION });
  if (values.help) return printUsage(o, command);
  const ref = onePositional(where, positionals, 'the schedule (burstgate schedule delete <id-or-name>)');
  const deleted = await (await clientFrom(o, values)).deleteSchedule(ref);
  if (values.json) {
    o.out(JSON.stringify(deleted, null, 2));
    return 0;
  }
  o.out(`schedule ${deleted.name} (${deleted.scheduleId}) deleted: no more windows`);
  o.out(
    deleted.cancelledJobs.length
      ? `cancelled the jobs of its window that had not opened: ${deleted.cancelledJobs.join(', ')}`
      : 'no job of a window that had not opened was left to cancel',
  );
  o.out('VMs that launched keep running under their leases (burstgate list --state running)');
  return 0;
}

async function preview(args: string[], o: Output): Promise<number> {
  const where = 'schedule preview';
  const { values, positionals } = parse(where, args, {
    ...GATEWAY_OPTIONS,
    ...JSON_OPTION,
    ...LENGTH_OPTIONS,
    cron: { type: 'string' },
    tz: { type: 'string' },
    count: { type: 'string' },
    after: { type: 'string' },
  });
  if (values.help) return printUsage(o, command);
  noPositionals(where, positionals);
  if (values.cron === undefined)
    throw new UsageError(where, 'missing --cron EXPR: the expression to preview');
  if (values.tz === undefined)
    throw new UsageError(where, 'missing --tz ZONE: the zone the expression is read in');
  const flags = timeFlags(where, o, values.tz);
  const count = positiveInt(where, 'count', values.count, 5);
  const after = values.after !== undefined ? flags.instant('--after', values.after).toISOString() : undefined;
  const answer = await (
    await clientFrom(o, values)
  ).previewSchedule({
    cron: cronText(values.cron),
    timeZone: flags.zone.name,
    count,
    ...(after ? { after } : {}),
    ...lengthFlags(where, flags, values),
  });
  o.out(values.json ? JSON.stringify(answer, null, 2) : renderPreview(answer));
  return 0;
}
