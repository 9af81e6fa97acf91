/** GET /budgets/{tenant} — a tenant's budget and this month's committed estimates (admin, or the tenant's own). */
import { BudgetPath, getBudget } from '../../shared/domain/budgets';
import { parseOrThrow } from '../../shared/domain/requests';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'none', route: 'GET /budgets/{tenant}' }, async (gw, event, caller) => {
    const { tenant } = parseOrThrow(BudgetPath, event.pathParameters ?? {}, 'the path');
    return json(200, await getBudget(gw, caller, tenant));
  });
}

export const handler = lazyHandler(createHandler);
