/** `burstgate list`: the jobs, newest first. */
import { JOB_STATES, type JobState } from '../../shared/domain/job';
import { renderJobTable } from '../../shared/client/render';
import { GATEWAY_HELP, GATEWAY_OPTIONS, clientFrom, noPositionals, parse } from '../support/args';
import { printUsage, type Command } from '../support/command';
import { UsageError } from '../support/errors';

export const command: Command = {
  usage: `Usage: burstgate list [--state STATE] [--json]

  --state STATE   only jobs in this state: ${JOB_STATES.join(', ')}
  --json          print the jobs as the API returns them
${GATEWAY_HELP}`,

  async run(args, o) {
    const { values, positionals } = parse('list', args, {
      ...GATEWAY_OPTIONS,
      state: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.help) return printUsage(o, command);
    noPositionals('list', positionals);
    if (values.state !== undefined && !(JOB_STATES as readonly string[]).includes(values.state)) {
      throw new UsageError('list', `--state must be one of ${JOB_STATES.join(', ')}, not '${values.state}'`);
    }
    const client = await clientFrom(o, values);
    const jobs = await client.listOffloads(values.state as JobState | undefined);
    o.out(values.json ? JSON.stringify(jobs, null, 2) : renderJobTable(jobs));
    return 0;
  },
};
