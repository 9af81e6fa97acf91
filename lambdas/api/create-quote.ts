/** POST /quotes — ranked, priced options for running a VM in the named regions for some hours. */
import { parseOrThrow } from '../../shared/domain/requests';
import { QuoteRequest, createQuote } from '../../shared/domain/quotes';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'required', route: 'POST /quotes' }, async (gw, event, caller) => {
    const req = parseOrThrow(QuoteRequest, event.parsedBody, 'the quote request');
    return json(200, await createQuote(gw, caller, req));
  });
}

export const handler = lazyHandler(createHandler);
