/**
 * HTTP API Lambda authorizer (payload 2.0, simple responses): translates the request for
 * authorizeBearer (shared/domain/api-keys.ts) and its answer back.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import { authorizeBearer } from '../../shared/domain/api-keys';
import { JobStore } from '../../shared/store/job-store';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';

type Result = APIGatewaySimpleAuthorizerWithContextResult<{ keyLabel: string }>;

export function createHandler(deps: GatewayDeps) {
  const store = new JobStore(deps.ddb, deps.config.jobsTable);
  return middy<APIGatewayRequestAuthorizerEventV2, Result>()
    .use(injectLambdaContext(deps.logger, { resetKeys: true }))
    .handler(async (event) => {
      const answer = await authorizeBearer(store, event.identitySource?.[0] ?? event.headers?.authorization);
      if (!answer.authorized) {
        deps.logger.info(`denied: ${answer.reason}`);
        return { isAuthorized: false, context: { keyLabel: '' } };
      }
      return { isAuthorized: true, context: { keyLabel: answer.keyLabel } };
    }) as unknown as (event: APIGatewayRequestAuthorizerEventV2, context: unknown) => Promise<Result>;
}

export const handler = lazyHandler(createHandler);
