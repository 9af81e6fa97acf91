/** GET /image-cache/{region}/{vmName} — a VM's AWS direct image cache entry and its block manifest's URL. */
import { getImageCacheView, ImageCachePath } from '../../shared/domain/image-cache-view';
import { parseOrThrow } from '../../shared/domain/requests';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'none' }, async (gw, event) => {
    const path = parseOrThrow(ImageCachePath, event.pathParameters ?? {}, 'the path');
    return json(200, await getImageCacheView(gw, path));
  });
}

export const handler = lazyHandler(createHandler);
