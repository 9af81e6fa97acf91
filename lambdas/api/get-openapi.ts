/**
 * GET /openapi.json — the API's OpenAPI 3.1 document: the committed openapi.json itself (imported,
 * so the bundle carries the very file CI checks against the schemas; nothing is generated here).
 */
import document from '../../openapi.json';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'none', route: 'GET /openapi.json' }, async () => json(200, document));
}

export const handler = lazyHandler(createHandler);
