/**
 * `burstgate lease show|extend|set <job-id>`: a job's lease (how long its VM may stay in the cloud,
 * and what happens then), its planned return and its deadline; PATCH /offloads/{id} to change it.
 * The new values are computed here and sent as absolute instants, so a retried PATCH changes nothing.
 */
import type { GatewayClient } from '../../shared/client/api-client';
import { extendedExpiry, leaseLines, planChange } from '../../shared/client/leases';
import { formatInstant, formatSpan, type Zone } from '../../shared/client/times';
import type { JobView, LeaseRequest } from '../../shared/client/types';
import { GATEWAY_HELP, GATEWAY_OPTIONS, clientFrom, onePositional, parse } from '../support/args';
import { printUsage, type Command } from '../support/command';
import { CliError, UsageError } from '../support/errors';
import type { Output } from '../support/output';
import { INSTANT_HELP, TZ_HELP, TZ_OPTION, onExpiryFlag, timeFlags } from '../support/time-flags';

export const command: Command = {
  usage: `Usage: burstgate lease show <job-id> [--json]
       burstgate lease extend <job-id> --by DURATION | --until T
       burstgate lease set <job-id> [--expires T] [--return-by T | --no-return-by] [--on-expiry return|cancel]

A job's lease says how long its VM may stay in the cloud and what happens when it ends: the VM
comes home (return) or is removed (cancel). With a return-by, the gateway starts the return early
enough to have the VM home by then, by an estimate of how long its return takes.

  show                the lease, the planned return (when, why, the estimate), when the return
                      started, and whether the VM was home by its return-by
  extend --by D       the lease ends D later than it does now (2h, 1d, 1w); run twice, twice as far
  extend --until T    the lease ends at T (not earlier than now; run again, nothing changes)
  set --expires T     the lease ends at T (earlier too)
  set --return-by T   the VM must be home by T; --no-return-by removes the deadline
  set --on-expiry A   what happens when the lease ends: return or cancel
  --json              print the job as the API returns it
${TZ_HELP}

${INSTANT_HELP}
${GATEWAY_HELP}`,

  async run(args, o) {
    const [sub, ...rest] = args;
    if (sub === '--help' || sub === '-h') return printUsage(o, command);
    if (sub === undefined || sub.startsWith('-')) {
      throw new UsageError(
        'lease',
        'missing what to do: show, extend or set (burstgate lease show <job-id>)',
      );
    }
    const run = Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined;
    if (!run) throw new UsageError('lease', `unknown subcommand '${sub}': use show, extend or set`);
    return run(rest, o);
  },
};

const SUBCOMMANDS: Record<string, (args: string[], o: Output) => Promise<number>> = {
  show,
  extend,
  set,
};

async function show(args: string[], o: Output): Promise<number> {
  const { values, positionals } = parse('lease show', args, {
    ...GATEWAY_OPTIONS,
    ...TZ_OPTION,
    json: { type: 'boolean' },
  });
  if (values.help) return printUsage(o, command);
  const id = onePositional('lease show', positionals, 'the job id (burstgate lease show <job-id>)');
  const { zone } = timeFlags('lease show', o, values.tz);
  const job = await (await clientFrom(o, values)).getOffload(id);
  if (values.json) {
    o.out(JSON.stringify(job, null, 2));
    return 0;
  }
  o.out(`${job.jobId}  ${job.vmName}  ${job.state}`);
  const lines = leaseLines(job, zone);
  if (lines.length === 0) o.out('  no lease: the gateway reports none (is it older than leases?)');
  for (const [k, v] of lines) o.out(`  ${k.padEnd(10)} ${v}`);
  return 0;
}

async function extend(args: string[], o: Output): Promise<number> {
  const { values, positionals } = parse('lease extend', args, {
    ...GATEWAY_OPTIONS,
    ...TZ_OPTION,
    by: { type: 'string' },
    until: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) return printUsage(o, command);
  const id = onePositional(
    'lease extend',
    positionals,
    'the job id (burstgate lease extend <job-id> --by 2h)',
  );
  if (values.by !== undefined && values.until !== undefined) {
    throw new UsageError('lease extend', '--by and --until both given: pass one (a duration, or an instant)');
  }
  const flags = timeFlags('lease extend', o, values.tz);
  const change: { bySeconds: number } | { until: Date } | undefined =
    values.by !== undefined
      ? { bySeconds: flags.duration('--by', values.by) }
      : values.until !== undefined
        ? { until: flags.instant('--until', values.until) }
        : undefined;
  if (!change) {
    throw new UsageError(
      'lease extend',
      'missing --by DURATION or --until T: how much longer, or until when',
    );
  }
  const client = await clientFrom(o, values);
  const job = await client.getOffload(id);
  const at = (iso: string): string => formatInstant(iso, flags.zone);
  const current = job.lease;
  if (!current) {
    throw new CliError(
      `job ${id} has no lease the gateway reports, to extend (is the gateway older than leases?)`,
    );
  }
  const expiresAt = extendedExpiry(current, change);
  if (Date.parse(expiresAt) < Date.parse(current.expiresAt)) {
    throw new CliError(
      `--until ${at(expiresAt)} is before the lease's end, ${at(current.expiresAt)}: extend moves it later`,
      `to end it earlier, run \`burstgate lease set ${id} --expires ${values.until}\``,
    );
  }
  const updated = await client.updateLease(id, { expiresAt });
  const headline =
    'bySeconds' in change
      ? `lease extended by ${formatSpan(change.bySeconds)} (it ended ${at(current.expiresAt)})`
      : Date.parse(expiresAt) === Date.parse(current.expiresAt)
        ? `the lease already ends ${at(expiresAt)}`
        : `lease extended to ${at(expiresAt)} (it ended ${at(current.expiresAt)})`;
  printChange(o, values.json, headline, job, updated, flags.zone);
  return 0;
}

async function set(args: string[], o: Output): Promise<number> {
  const { values, positionals } = parse('lease set', args, {
    ...GATEWAY_OPTIONS,
    ...TZ_OPTION,
    expires: { type: 'string' },
    'return-by': { type: 'string' },
    'no-return-by': { type: 'boolean' },
    'on-expiry': { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) return printUsage(o, command);
  const id = onePositional('lease set', positionals, 'the job id (burstgate lease set <job-id> --expires T)');
  if (values['return-by'] !== undefined && values['no-return-by']) {
    throw new UsageError('lease set', '--return-by and --no-return-by both given: pass one');
  }
  const flags = timeFlags('lease set', o, values.tz);
  const lease: LeaseRequest = {};
  const said: string[] = [];
  if (values.expires !== undefined) {
    lease.expiresAt = flags.instant('--expires', values.expires).toISOString();
    said.push('new expiry');
  }
  if (values['return-by'] !== undefined) {
    lease.returnBy = flags.instant('--return-by', values['return-by']).toISOString();
    said.push('new return-by');
  }
  if (values['no-return-by']) {
    lease.returnBy = null;
    said.push('return-by removed');
  }
  const onExpiry = onExpiryFlag('lease set', values['on-expiry']);
  if (onExpiry) {
    lease.onExpiry = onExpiry;
    said.push(`on expiry ${onExpiry}`);
  }
  if (said.length === 0) {
    throw new UsageError(
      'lease set',
      'nothing to set: pass --expires, --return-by, --no-return-by or --on-expiry',
    );
  }
  const client: GatewayClient = await clientFrom(o, values);
  const before = await client.getOffload(id);
  const updated = await client.updateLease(id, lease);
  printChange(o, values.json, `lease set (${said.join(', ')})`, before, updated, flags.zone);
  return 0;
}

/** The lease as changed, and what the change did to the planned return. */
function printChange(
  o: Output,
  json: boolean | undefined,
  headline: string,
  before: JobView,
  after: JobView,
  zone: Zone,
): void {
  if (json) {
    o.out(JSON.stringify(after, null, 2));
    return;
  }
  o.out(`${after.jobId}: ${headline}`);
  for (const [k, v] of leaseLines(after, zone)) o.out(`  ${k.padEnd(10)} ${v}`);
  o.out(`  ${'change'.padEnd(10)} ${planChange(before.returnPlan, after.returnPlan, zone)}`);
}
