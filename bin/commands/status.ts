/** `burstgate status <job-id>`: a job's state, steps, resources and download; `--watch` follows it. */
import { followJob } from '../../shared/client/follow';
import { settled } from '../../shared/client/offload-workflow';
import { renderJob } from '../../shared/client/render';
import type { JobState, JobView } from '../../shared/client/types';
import { GATEWAY_HELP, GATEWAY_OPTIONS, clientFrom, intervalMs, onePositional, parse } from '../support/args';
import { printUsage, type Command } from '../support/command';
import { interruptible, jobPrinter } from '../support/output';
import { TZ_HELP, TZ_OPTION, timeFlags } from '../support/time-flags';

/**
 * States `status --watch` waits for: nothing more happens without someone asking (or a staged VM's
 * launch time: `settled`).
 */
const SETTLED: ReadonlySet<JobState> = new Set([
  'running',
  'returned',
  'return-failed',
  'failed',
  'cancelled',
]);

export const command: Command = {
  usage: `Usage: burstgate status <job-id> [--watch] [--json] [--tz ZONE]

  --watch             keep polling, printing changes, until the job is running or finished
                      (or staged, waiting for its launch time or release)
  --json              print the job as the API returns it
  --interval S        seconds between polls with --watch (default 2)
${TZ_HELP}

The lease lines say when the lease ends and what then, the planned return (burstgate lease show),
and once the VM is home with a return-by, whether it made it.
${GATEWAY_HELP}`,

  async run(args, o) {
    const { out } = o;
    const { values, positionals } = parse('status', args, {
      ...GATEWAY_OPTIONS,
      watch: { type: 'boolean', short: 'w' },
      json: { type: 'boolean' },
      interval: { type: 'string' },
      ...TZ_OPTION,
    });
    if (values.help) return printUsage(o, command);
    const id = onePositional('status', positionals, 'the job id (burstgate status <job-id>)');
    const interval = intervalMs('status', values.interval);
    const { zone } = timeFlags('status', o, values.tz);
    const render = (j: JobView): string => renderJob(j, { zone });
    const client = await clientFrom(o, values);
    let job = await client.getOffload(id);
    const done = (j: JobView): boolean => SETTLED.has(j.state) || settled(j);
    if (values.watch && !done(job)) {
      if (!values.json) out(render(job));
      const live = interruptible(o, () => `stopped watching ${id}; it goes on`);
      try {
        const printer = jobPrinter(o);
        job = await followJob(client, id, {
          until: done,
          intervalMs: interval,
          onUpdate: (j, prev) => {
            if (prev && !values.json) printer(j, prev);
          },
          signal: live.signal,
        });
      } finally {
        live.dispose();
      }
      if (!values.json) out('');
    }
    out(values.json ? JSON.stringify(job, null, 2) : render(job));
    return 0;
  },
};
