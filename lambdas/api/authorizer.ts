/**
 * HTTP API Lambda authorizer (payload 2.0, simple responses): translates the request for
 * authorizeBearer (shared/domain/api-keys.ts) and its answer back. The context carries who calls
 * (tenant, key id, scopes as one comma-separated string, since context values are scalars) to
 * every handler (lambdas/middleware/caller.ts) and to the stage's access log.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import { authorizeBearer } from '../../shared/domain/api-keys';
import { ApiKeyStore } from '../../shared/store/api-key-store';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';

export interface CallerContext {
  tenant: string;
  keyId: string;
  scopes: string;
  keyLabel: string;
}
type Result = APIGatewaySimpleAuthorizerWithContextResult<CallerContext>;

const DENIED: CallerContext = { tenant: '', keyId: '', scopes: '', keyLabel: '' };

export function createHandler(deps: GatewayDeps) {
  const keys = new ApiKeyStore(deps.ddb, deps.config.jobsTable);
  return middy<APIGatewayRequestAuthorizerEventV2, Result>()
    .use(injectLambdaContext(deps.logger, { resetKeys: true }))
    .handler(async (event) => {
      const answer = await authorizeBearer(
        keys,
        event.identitySource?.[0] ?? event.headers?.authorization,
        deps.now(),
      );
      if (!answer.authorized) {
        deps.logger.info(`denied: ${answer.reason}`, answer.keyId ? { keyId: answer.keyId } : {});
        return { isAuthorized: false, context: DENIED };
      }
      const { tenant, keyId, scopes } = answer.caller;
      return {
        isAuthorized: true,
        context: { tenant, keyId, scopes: scopes.join(','), keyLabel: answer.keyLabel },
      };
    }) as unknown as (event: APIGatewayRequestAuthorizerEventV2, context: unknown) => Promise<Result>;
}

export const handler = lazyHandler(createHandler);
