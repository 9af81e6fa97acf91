/** `burstgate launch <job-id>`: release a staged VM's launch (held, or timed and wanted now). */
import { followJob } from '../../shared/client/follow';
import { errorLines, targetText } from '../../shared/client/render';
import { GATEWAY_HELP, GATEWAY_OPTIONS, clientFrom, intervalMs, onePositional, parse } from '../support/args';
import { printUsage, type Command } from '../support/command';
import { JobOutcome } from '../support/errors';
import { clock, interruptible, jobPrinter } from '../support/output';

export const command: Command = {
  usage: `Usage: burstgate launch <job-id> [--no-follow]

Launches a staged VM now: one offloaded with --hold, or with --launch-at before its time. The
image is in the cloud already, so launching is the only work left.

  --no-follow    return once the launch is released (default: follow until the VM runs)
  --interval S   seconds between polls (default 2)
${GATEWAY_HELP}`,

  async run(args, o) {
    const { values, positionals } = parse('launch', args, {
      ...GATEWAY_OPTIONS,
      'no-follow': { type: 'boolean' },
      interval: { type: 'string' },
    });
    if (values.help) return printUsage(o, command);
    const id = onePositional('launch', positionals, 'the job id (burstgate launch <job-id>)');
    const interval = intervalMs('launch', values.interval);
    const client = await clientFrom(o, values);
    const answer = await client.launchOffload(id);
    o.out(`${clock()}  ${id}: launch released (${answer.state})`);
    if (values['no-follow']) return 0;
    const live = interruptible(
      o,
      () => `stopped following ${id}; it goes on: \`burstgate status ${id} --watch\``,
    );
    try {
      const job = await followJob(client, id, {
        until: (j) => j.state === 'running' || j.state === 'failed' || j.state === 'cancelled',
        intervalMs: interval,
        onUpdate: jobPrinter(o),
        signal: live.signal,
      });
      if (job.state !== 'running') {
        for (const l of job.error ? errorLines(job.error) : [`the launch ended ${job.state}`]) o.err(l);
        throw new JobOutcome(job.state);
      }
      o.out(`${job.jobId} is running in ${targetText(job)}`);
      return 0;
    } finally {
      live.dispose();
    }
  },
};
