/** `burstgate table backfill`: index a deployed gateway's jobs and schedules from before tenants. */
import { HELP_OPTION, parse } from '../support/args';
import { printUsage, type Command } from '../support/command';
import { UsageError } from '../support/errors';

export const command: Command = {
  usage: `Usage: burstgate table backfill --table NAME [--region R] [--endpoint URL]

Writes the jobs and schedules made before tenants again, so the tenant index (GSI byOwner) holds
them and GET /offloads and GET /schedules list them. Run it once after upgrading a deployed
gateway (the embedded deployment does it itself); it is safe to run again and while the gateway
runs. Uses your AWS credentials.

  --table NAME     the jobs table (stack output JobsTableName)
  --region R       its region (default: $AWS_REGION, else us-east-1)
  --endpoint URL   a DynamoDB endpoint other than AWS's (e.g. a local one)`,

  async run(args, o) {
    const { values, positionals } = parse('table', args, {
      table: { type: 'string' },
      region: { type: 'string' },
      endpoint: { type: 'string' },
      ...HELP_OPTION,
    });
    if (values.help) return printUsage(o, command);
    if (positionals[0] !== 'backfill' || positionals.length !== 1) {
      throw new UsageError('table', 'the only action is backfill (burstgate table backfill --table NAME)');
    }
    if (!values.table) throw new UsageError('table', '--table is required (the stack output JobsTableName)');
    // the DynamoDB SDK loads only for this command
    const { backfillOwnerIndex } = await import('../../shared/domain/table-admin');
    const done = await backfillOwnerIndex({
      table: values.table,
      region: values.region ?? o.io.env.AWS_REGION ?? 'us-east-1',
      ...(values.endpoint ? { endpoint: values.endpoint } : {}),
    });
    o.out(`indexed ${done.jobs} jobs and ${done.schedules} schedules of ${values.table} for their tenants`);
    return 0;
  },
};
