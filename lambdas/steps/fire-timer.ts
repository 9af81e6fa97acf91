/** Timer · FireTimer: a lease timer came due (EventBridge Scheduler started the timer workflow). */
import { fireTimer } from '../../shared/domain/lease-actions';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'timer', (gw, e) => fireTimer(gw, e));
}

export const handler = lazyHandler(createHandler);
