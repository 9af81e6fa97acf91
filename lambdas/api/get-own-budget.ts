/** GET /budget — the caller's tenant's budget and this month's committed estimates. */
import { getBudget } from '../../shared/domain/budgets';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'none', route: 'GET /budget' }, async (gw, _event, caller) =>
    json(200, await getBudget(gw, caller, caller.tenant)),
  );
}

export const handler = lazyHandler(createHandler);
