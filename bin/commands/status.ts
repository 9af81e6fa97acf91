/** `burstgate status <job-id>`: a job's state, steps, resources and download; `--watch` follows it. */
import { followJob } from '../../shared/client/follow';
import { renderJob } from '../../shared/client/render';
import type { JobState } from '../../shared/client/types';
import { GATEWAY_HELP, GATEWAY_OPTIONS, clientFrom, intervalMs, onePositional, parse } from '../support/args';
import { printUsage, type Command } from '../support/command';
import { interruptible, jobPrinter } from '../support/output';

/** States `status --watch` waits for: nothing more happens without someone asking. */
const SETTLED: ReadonlySet<JobState> = new Set([
  'running',
  'returned',
  'return-failed',
  'failed',
  'cancelled',
]);

export const command: Command = {
  usage: `Usage: burstgate status <job-id> [--watch] [--json]

  --watch        keep polling, printing changes, until the job is running or finished
  --json         print the job as the API returns it
  --interval S   seconds between polls with --watch (default 2)
${GATEWAY_HELP}`,

  async run(args, o) {
    const { out } = o;
    const { values, positionals } = parse('status', args, {
      ...GATEWAY_OPTIONS,
      watch: { type: 'boolean', short: 'w' },
      json: { type: 'boolean' },
      interval: { type: 'string' },
    });
    if (values.help) return printUsage(o, command);
    const id = onePositional('status', positionals, 'the job id (burstgate status <job-id>)');
    const interval = intervalMs('status', values.interval);
    const client = await clientFrom(o, values);
    let job = await client.getOffload(id);
    if (values.watch && !SETTLED.has(job.state)) {
      if (!values.json) out(renderJob(job));
      const live = interruptible(o, () => `stopped watching ${id}; it goes on`);
      try {
        const printer = jobPrinter(o);
        job = await followJob(client, id, {
          until: (j) => SETTLED.has(j.state),
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
    out(values.json ? JSON.stringify(job, null, 2) : renderJob(job));
    return 0;
  },
};
