/** `burstgate api-key create`: a new API key for a deployed gateway, stored hashed in its jobs table. */
import { HELP_OPTION, parse } from '../support/args';
import { printUsage, type Command } from '../support/command';
import { UsageError } from '../support/errors';

export const command: Command = {
  usage: `Usage: burstgate api-key create --table NAME [--region R] [--label TEXT] [--endpoint URL]

Creates a new API key, stores its SHA-256 in the gateway's jobs table (the stack output
JobsTableName) and prints the key once: it cannot be shown again. Uses your AWS credentials.

  --table NAME     the jobs table (stack output JobsTableName)
  --region R       its region (default: $AWS_REGION, else us-east-1)
  --label TEXT     who or what the key is for (default: cli)
  --endpoint URL   a DynamoDB endpoint other than AWS's (e.g. a local one)`,

  async run(args, o) {
    const { values, positionals } = parse('api-key', args, {
      table: { type: 'string' },
      region: { type: 'string' },
      label: { type: 'string' },
      endpoint: { type: 'string' },
      ...HELP_OPTION,
    });
    if (values.help) return printUsage(o, command);
    if (positionals[0] !== 'create' || positionals.length !== 1) {
      throw new UsageError('api-key', 'the only action is `create` (burstgate api-key create --table NAME)');
    }
    if (!values.table)
      throw new UsageError('api-key', '--table is required (the stack output JobsTableName)');
    // the DynamoDB SDK loads only for this command
    const { createApiKey } = await import('../../shared/store/api-key-admin');
    const key = await createApiKey({
      table: values.table,
      region: values.region ?? o.io.env.AWS_REGION ?? 'us-east-1',
      label: values.label ?? 'cli',
      ...(values.endpoint ? { endpoint: values.endpoint } : {}),
    });
    o.out(key);
    o.err(`burstgate: API key created in ${values.table}; it is shown only this once, store it safely`);
    return 0;
  },
};
