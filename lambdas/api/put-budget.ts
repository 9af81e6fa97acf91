/** PUT /budgets/{tenant} — a tenant's monthly budget `{monthlyUsd, mode, thresholds}` (admin). */
import { BudgetPath, BudgetRequest, putBudget } from '../../shared/domain/budgets';
import { parseOrThrow } from '../../shared/domain/requests';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'required', route: 'PUT /budgets/{tenant}' }, async (gw, event, caller) => {
    const { tenant } = parseOrThrow(BudgetPath, event.pathParameters ?? {}, 'the path');
    const req = parseOrThrow(BudgetRequest, event.parsedBody, 'the budget');
    return json(200, await putBudget(gw, caller, tenant, req));
  });
}

export const handler = lazyHandler(createHandler);
