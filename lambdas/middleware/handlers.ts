/**
 * How every entry module is put together: middy, the Powertools logger with the job id on every
 * line, and (for the HTTP API) JSON bodies and problem+json errors.
 */
import middy from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { createGateway, type Gateway } from '../../shared/domain/gateway';
import type { GatewayDeps } from '../../shared/runtime/deps';
import { parseStepInput, type StepInput, type StepInputName } from '../../shared/domain/workflow/step-inputs';
import { ROUTE_SCOPES, type Caller, type RouteKey, type Scope } from '../../shared/domain/tenants';
import { authorizedCaller } from './caller';
import { jsonBody, type JsonEvent } from './json-body';
import { problemDetails } from './problem-details';

export type ApiResult = APIGatewayProxyStructuredResultV2;

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): ApiResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

/** Appends the job id (from the path or the step input) to every log line of this invocation. */
function jobIdKey(gw: Gateway) {
  return {
    before: async (request: { event: unknown }) => {
      const e = request.event as { pathParameters?: { id?: string }; jobId?: unknown; scheduleId?: unknown };
      const id = e?.pathParameters?.id ?? (typeof e?.jobId === 'string' ? e.jobId : undefined);
      if (id) gw.logger.appendKeys(id.startsWith('job-') ? { jobId: id } : { scheduleId: id });
      else if (typeof e?.scheduleId === 'string') gw.logger.appendKeys({ scheduleId: e.scheduleId });
    },
  };
}

/**
 * Checks the route's scope first, puts the tenant and key id on every log line, and keeps the
 * caller for the route's function (read from the event once).
 */
function callerKeys(gw: Gateway, scope: Scope | null, callers: WeakMap<object, Caller>) {
  return {
    before: async (request: { event: APIGatewayProxyEventV2 }) => {
      const caller = authorizedCaller(request.event, scope);
      callers.set(request.event, caller);
      gw.logger.appendKeys({ tenant: caller.tenant, keyId: caller.keyId });
    },
  };
}

/**
 * An HTTP API route: its key in ROUTE_SCOPES names the scope the caller's key must have (a 403
 * naming it otherwise, before the body is even parsed); `fn` gets the caller, and looks up only
 * what it owns.
 */
export function apiHandler(
  deps: GatewayDeps,
  opts: { body: 'none' | 'required' | 'optional'; route: RouteKey },
  fn: (gw: Gateway, event: JsonEvent, caller: Caller) => Promise<ApiResult>,
) {
  const scope: Scope | null = ROUTE_SCOPES[opts.route];
  const gw = createGateway(deps);
  const h = middy<JsonEvent, ApiResult>()
    .use(injectLambdaContext(gw.logger, { resetKeys: true }))
    .use(httpHeaderNormalizer())
    .use(jobIdKey(gw))
    .use(problemDetails({ logger: gw.logger }));
  const callers = new WeakMap<object, Caller>();
  h.use(callerKeys(gw, scope, callers));
  if (opts.body !== 'none') h.use(jsonBody({ required: opts.body === 'required' }));
  return h.handler((event) =>
    fn(gw, event, callers.get(event) ?? authorizedCaller(event, scope)),
  ) as unknown as (event: APIGatewayProxyEventV2, context: unknown) => Promise<ApiResult>;
}

/**
 * A Step Functions task: the input checked against the step's schema (step-inputs.ts) before the
 * step runs; a failure keeps its name for the state machine's Retry/Catch and is logged once.
 */
export function stepHandler<N extends StepInputName, R>(
  deps: GatewayDeps,
  input: N,
  fn: (gw: Gateway, event: StepInput<N>) => Promise<R>,
) {
  const gw = createGateway(deps);
  return middy<unknown, R>()
    .use(injectLambdaContext(gw.logger, { resetKeys: true }))
    .use(jobIdKey(gw))
    .use({
      onError: async (request) => {
        // Step Functions matches Retry/Catch on this name; log it once with the job id.
        const err = request.error as Error;
        gw.logger.warn('step failed', { errorName: err?.name, errorMessage: err?.message });
      },
    })
    .handler((event) => fn(gw, parseStepInput(input, event))) as unknown as (
    event: unknown,
    context: unknown,
  ) => Promise<R>;
}
