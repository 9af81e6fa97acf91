/** `burstgate budget show [--tenant T]` and `burstgate budget set <tenant> --monthly-usd N`: tenants' monthly budgets. */
import type { BudgetView } from '../../shared/client/types';
import { GATEWAY_HELP, GATEWAY_OPTIONS, clientFrom, parse } from '../support/args';
import { printUsage, type Command } from '../support/command';
import { UsageError } from '../support/errors';
import type { Output } from '../support/output';

export const command: Command = {
  usage: `Usage: burstgate budget show [--tenant TENANT] [--json]
       burstgate budget set <tenant> --monthly-usd N [--soft] [--thresholds 50,80,100] [--json]

show   the key's tenant's budget (another tenant's with an admin key): this month's committed
       estimates and what is left
set    a tenant's monthly budget in USD (admin key). Hard by default: an offload whose estimate
       would pass what is left is refused before anything is created; --soft only tells.
${GATEWAY_HELP}`,

  async run(args, o) {
    const { values, positionals } = parse('budget', args, {
      ...GATEWAY_OPTIONS,
      tenant: { type: 'string' },
      'monthly-usd': { type: 'string' },
      soft: { type: 'boolean' },
      thresholds: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.help) return printUsage(o, command);
    const [action, tenant, ...extra] = positionals;
    const usage = (m: string) => new UsageError('budget', m);
    if (action === 'show') {
      if (tenant !== undefined) throw usage('show takes no positional argument; use --tenant');
      const client = await clientFrom(o, values);
      print(o, await client.getBudget(values.tenant), values.json);
      return 0;
    }
    if (action !== 'set') throw usage(`show or set, got ${action ?? 'nothing'}`);
    if (tenant === undefined || extra.length)
      throw usage('set takes one tenant: burstgate budget set <tenant> --monthly-usd N');
    const monthly = Number(values['monthly-usd']);
    if (values['monthly-usd'] === undefined || !Number.isFinite(monthly) || monthly <= 0) {
      throw usage('--monthly-usd must be a positive number of USD');
    }
    const thresholds = values.thresholds?.split(',').map((t) => Number(t.trim()));
    if (thresholds?.some((t) => !Number.isInteger(t) || t < 1 || t > 100)) {
      throw usage('--thresholds must be whole percentages from 1 to 100, e.g. 50,80,100');
    }
    const client = await clientFrom(o, values);
    const view = await client.putBudget(tenant, {
      monthlyUsd: monthly,
      mode: values.soft ? 'soft' : 'hard',
      ...(thresholds ? { thresholds } : {}),
    });
    print(o, view, values.json);
    return 0;
  },
};

function print(o: Output, b: BudgetView, json: boolean | undefined): void {
  if (json) {
    o.out(JSON.stringify(b, null, 2));
    return;
  }
  o.out(`tenant      ${b.tenant}`);
  o.out(
    `budget      ${b.monthlyUsd.toFixed(2)} USD a month (${b.mode}; alerts at ${b.thresholds.join(', ')} %)`,
  );
  o.out(
    `${b.month}     ${b.committedUsd.toFixed(2)} USD committed by ${b.jobs} job(s), ${b.remainingUsd.toFixed(2)} USD left`,
  );
}
