/**
 * `burstgate api-key create|list|revoke`: API keys of a deployed gateway, in its jobs table (the
 * operator's AWS credentials, not an API key: making keys is not something a key may do).
 */
import { columns } from '../../shared/client/render';
import { SCOPES } from '../../shared/domain/tenants';
import type { ApiKeyRecord } from '../../shared/store/api-key-store';
import { HELP_OPTION, parse } from '../support/args';
import { printUsage, type Command } from '../support/command';
import { CliError, UsageError } from '../support/errors';
import type { Output } from '../support/output';
import { timeFlags } from '../support/time-flags';

const TABLE_HELP = `  --table NAME        the jobs table (stack output JobsTableName)
  --region R          its region (default: $AWS_REGION, else us-east-1)
  --endpoint URL      a DynamoDB endpoint other than AWS's (e.g. a local one)`;

export const command: Command = {
  usage: `Usage: burstgate api-key create --table NAME --tenant T --scopes S,S… [--expires WHEN] [--label TEXT]
       burstgate api-key list --table NAME [--tenant T] [--json]
       burstgate api-key revoke KEY-ID --table NAME

create   makes a key for tenant T, stores only its SHA-256 and prints the key once: it cannot be
         shown again. Scopes: ${SCOPES.join(', ')} (admin implies all, and may read
         other tenants' jobs). --expires takes a duration (90d, 12h) or an instant (2027-06-30T00:00Z).
list     the keys (of one tenant), with id, scopes, label, expiry and whether revoked; never a key.
revoke   the key stops working at its next request (the record stays, marked revoked).

Uses your AWS credentials.
  --tenant T          the tenant (lower-case letters, digits, dashes)
  --scopes S,S…       what the key may do
  --expires WHEN      when it stops working (default: never)
  --label TEXT        who or what the key is for (default: cli)
  --json              print the records as JSON
${TABLE_HELP}`,

  async run(args, o) {
    const { values, positionals } = parse('api-key', args, {
      table: { type: 'string' },
      region: { type: 'string' },
      endpoint: { type: 'string' },
      tenant: { type: 'string' },
      scopes: { type: 'string' },
      expires: { type: 'string' },
      label: { type: 'string' },
      json: { type: 'boolean' },
      ...HELP_OPTION,
    });
    if (values.help) return printUsage(o, command);
    const [action, ...rest] = positionals;
    if (action !== 'create' && action !== 'list' && action !== 'revoke') {
      throw new UsageError('api-key', 'the actions are create, list and revoke (burstgate api-key --help)');
    }
    if (action === 'revoke' ? rest.length !== 1 : rest.length !== 0) {
      throw new UsageError(
        'api-key',
        action === 'revoke' ? 'revoke takes one key id (key-…)' : `${action} takes no arguments`,
      );
    }
    if (!values.table)
      throw new UsageError('api-key', '--table is required (the stack output JobsTableName)');
    const ref = {
      table: values.table,
      region: values.region ?? o.io.env.AWS_REGION ?? 'us-east-1',
      ...(values.endpoint ? { endpoint: values.endpoint } : {}),
    };
    // the DynamoDB SDK loads only for this command
    const admin = await import('../../shared/domain/api-key-admin');
    if (action === 'create') {
      if (!values.tenant) throw new UsageError('api-key', '--tenant is required');
      if (!values.scopes)
        throw new UsageError('api-key', `--scopes is required (some of ${SCOPES.join(', ')})`);
      const now = new Date();
      const expiresAt = values.expires ? expiryOf(o, values.expires, now) : undefined;
      const { key, record } = await admin
        .createApiKey(
          ref,
          {
            tenant: values.tenant,
            scopes: values.scopes.split(',').map((s) => s.trim()),
            label: values.label ?? 'cli',
            ...(expiresAt ? { expiresAt } : {}),
          },
          now,
        )
        .catch((err: unknown) => {
          // what was wrong with the flags, named by the domain's check
          if ((err as Error).name === 'ValidationError')
            throw new UsageError('api-key', (err as Error).message);
          throw err;
        });
      o.out(key);
      o.err(
        `burstgate: API key ${record.keyId} for tenant ${record.tenant} (${(record.scopes ?? []).join(',')})` +
          `${record.expiresAt ? `, expires ${record.expiresAt}` : ''} created in ${ref.table}; it is shown only this once, store it safely`,
      );
      return 0;
    }
    if (action === 'list') {
      const records = await admin.listApiKeys(ref, values.tenant);
      o.out(values.json ? JSON.stringify(records, null, 2) : renderKeys(records, new Date()));
      return 0;
    }
    const record = await admin.revokeApiKey(ref, rest[0]!).catch((err: unknown) => {
      if ((err as Error).name === 'ApiKeyMissing') {
        throw new CliError(
          `no API key ${rest[0]} in ${ref.table}`,
          'burstgate api-key list shows the key ids',
        );
      }
      throw err;
    });
    o.out(`${record.keyId ?? rest[0]} revoked at ${record.revokedAt ?? '?'}`);
    return 0;
  },
};

/** `--expires`: a duration from now (90d) or an instant. */
function expiryOf(o: Output, value: string, now: Date): Date {
  const flags = timeFlags('api-key', o, undefined);
  if (/^\d/.test(value) && !/[T:-]/.test(value)) {
    return new Date(now.getTime() + flags.duration('--expires', value) * 1000);
  }
  return flags.instant('--expires', value);
}

function renderKeys(records: ApiKeyRecord[], now: Date): string {
  if (records.length === 0) return 'no API keys';
  const rows = records.map((r) => [
    r.keyId ?? '(no id)',
    r.tenant ?? 'default',
    (r.scopes ?? ['(legacy)']).join(','),
    r.label,
    r.createdAt,
    r.expiresAt ?? '-',
    statusOf(r, now),
  ]);
  return columns(['KEY ID', 'TENANT', 'SCOPES', 'LABEL', 'CREATED', 'EXPIRES', 'STATUS'], rows).join('\n');
}

function statusOf(r: ApiKeyRecord, now: Date): string {
  if (r.revokedAt || r.disabled) return `revoked ${r.revokedAt ?? ''}`.trim();
  if (r.expiresAt && Date.parse(r.expiresAt) <= now.getTime()) return 'expired';
  return 'active';
}
