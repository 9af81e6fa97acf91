/**
 * `burstgate cancel <job-id>`: cancel a job. The gateway answers at once (`cancelling`) and its
 * cancel workflow removes everything the job created; `--wait` follows the job until it is
 * `cancelled`, or until the cancel gave up (the job's error names what is left: exit non-zero).
 */
import { cancelEnded, followJob } from '../../shared/client/follow';
import { errorLines } from '../../shared/client/render';
import { GATEWAY_HELP, GATEWAY_OPTIONS, clientFrom, intervalMs, onePositional, parse } from '../support/args';
import { printUsage, type Command } from '../support/command';
import { JobOutcome } from '../support/errors';
import { clock, jobPrinter } from '../support/output';

export const command: Command = {
  usage: `Usage: burstgate cancel <job-id> [--wait]

  --wait         follow the job until it is cancelled
  --interval S   seconds between polls with --wait (default 2)
${GATEWAY_HELP}`,

  async run(args, o) {
    const { values, positionals } = parse('cancel', args, {
      ...GATEWAY_OPTIONS,
      wait: { type: 'boolean' },
      interval: { type: 'string' },
    });
    if (values.help) return printUsage(o, command);
    const id = onePositional('cancel', positionals, 'the job id (burstgate cancel <job-id>)');
    const interval = intervalMs('cancel', values.interval);
    const client = await clientFrom(o, values);
    const answer = await client.cancel(id);
    o.out(`${clock()}  ${id}: ${answer.state}`);
    if (values.wait && answer.state !== 'cancelled') {
      const job = await followJob(client, id, {
        until: cancelEnded,
        intervalMs: interval,
        onUpdate: jobPrinter(o),
      });
      if (job.state !== 'cancelled') {
        if (job.error) for (const l of errorLines(job.error)) o.err(l);
        throw new JobOutcome(job.state);
      }
    }
    return 0;
  },
};
