/** GET /schedules — every schedule with its next window, oldest first. */
import { viewSchedule } from '../../shared/domain/windows/schedule-view';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'none' }, async (gw) => {
    const schedules = await gw.schedules.list();
    return json(200, { items: schedules.map((s) => viewSchedule(s, 1)) });
  });
}

export const handler = lazyHandler(createHandler);
