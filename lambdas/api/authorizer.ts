/**
 * HTTP API Lambda authorizer (payload 2.0, simple responses). API keys are stored hashed
 * (SHA-256) in the jobs table; the key in `Authorization: Bearer <key>` is hashed and looked up.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import { JobStore } from '../../shared/store/job-store';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';

type Result = APIGatewaySimpleAuthorizerWithContextResult<{ keyLabel: string }>;

export function createHandler(deps: GatewayDeps) {
  const store = new JobStore(deps.ddb, deps.config.jobsTable);
  return middy<APIGatewayRequestAuthorizerEventV2, Result>()
    .use(injectLambdaContext(deps.logger, { resetKeys: true }))
    .handler(async (event) => {
      const header = event.identitySource?.[0] ?? event.headers?.authorization ?? '';
      const match = /^Bearer\s+(\S{16,512})$/i.exec(header.trim());
      if (!match?.[1]) {
        deps.logger.info('denied: malformed Authorization header');
        return { isAuthorized: false, context: { keyLabel: '' } };
      }
      const key = await store.findApiKey(match[1]);
      if (!key) deps.logger.info('denied: unknown API key');
      return { isAuthorized: !!key, context: { keyLabel: key?.label ?? '' } };
    }) as unknown as (event: APIGatewayRequestAuthorizerEventV2, context: unknown) => Promise<Result>;
}

export const handler = lazyHandler(createHandler);
