/**
 * The caller of a request, from the authorizer's context (`requestContext.authorizer.lambda`,
 * set by lambdas/api/authorizer.ts), and the route's scope check. A route without a caller was
 * not behind the authorizer: a deployment error, never something a client can cause, so it is a
 * plain Error (a generic 500).
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { isScope, requireScope, type Caller, type Scope } from '../../shared/domain/tenants';

export function callerOf(event: APIGatewayProxyEventV2): Caller {
  const context = (event.requestContext as { authorizer?: { lambda?: Record<string, unknown> } })?.authorizer
    ?.lambda;
  const tenant = context?.tenant;
  const keyId = context?.keyId;
  const scopes = context?.scopes;
  if (typeof tenant !== 'string' || !tenant || typeof keyId !== 'string' || typeof scopes !== 'string') {
    throw new Error('the request carries no caller: is the route behind the API key authorizer?');
  }
  return { tenant, keyId, scopes: scopes.split(',').filter(isScope) };
}

/** What each scope lets a key do, for the 403's detail. */
const ACTIONS: Record<Scope, string> = {
  read: 'read jobs, schedules and the image cache',
  offload: 'offload, launch and change a job',
  return: 'return a job',
  cancel: 'cancel a job',
  schedule: 'create, change and delete schedules',
  webhook: 'create, rotate, delete webhook endpoints and replay their deliveries',
  admin: 'do this',
};

/** The caller, after checking it has the route's scope (ScopeMissingError, 403, otherwise; null: any key). */
export function authorizedCaller(event: APIGatewayProxyEventV2, scope: Scope | null): Caller {
  const caller = callerOf(event);
  if (scope) requireScope(caller, scope, ACTIONS[scope]);
  return caller;
}
