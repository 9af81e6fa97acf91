/**
 * The one onError of the HTTP API: GatewayErrors become RFC 9457 problem+json with their stable
 * type, and so do the store errors a request can meet (a missing job, a reused idempotency key, a
 * job that kept changing); anything else is logged and becomes a generic 500 that exposes nothing
 * internal.
 */
import type { MiddlewareObj } from '@middy/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import {
  ConcurrentUpdateError,
  GatewayError,
  ValidationError,
  DeliveryNotFoundError,
  WebhookNotFoundError,
  IdempotencyConflictError,
  JobNotFoundError,
  PROBLEM_BASE,
  ScheduleNameTakenProblem,
  ScheduleNotFoundError,
} from '../../shared/domain/errors';
import {
  CursorInvalidError,
  DeliveryMissingError,
  DeliveryWriteConflictError,
  WebhookMissingError,
  WebhookWriteConflictError,
  IdempotencyKeyConflictError,
  JobMissingError,
  JobWriteConflictError,
  ScheduleMissingError,
  ScheduleNameTakenError,
  ScheduleWriteConflictError,
} from '../../shared/store/errors';

/** The problem a store error means to the caller of the API; undefined for what is not theirs to see. */
export function problemOfStoreError(err: unknown): GatewayError | undefined {
  if (err instanceof JobMissingError) return new JobNotFoundError(err.jobId);
  if (err instanceof IdempotencyKeyConflictError) return new IdempotencyConflictError(err.key, err.jobId);
  if (err instanceof JobWriteConflictError) return new ConcurrentUpdateError(err.jobId);
  if (err instanceof ScheduleMissingError) return new ScheduleNotFoundError(err.scheduleId);
  if (err instanceof ScheduleNameTakenError)
    return new ScheduleNameTakenProblem(err.scheduleName, err.holder);
  if (err instanceof ScheduleWriteConflictError) return new ConcurrentUpdateError(err.scheduleId, 'schedule');
  if (err instanceof WebhookMissingError) return new WebhookNotFoundError(err.webhookId);
  if (err instanceof WebhookWriteConflictError) return new ConcurrentUpdateError(err.webhookId, 'webhook');
  if (err instanceof DeliveryWriteConflictError) return new ConcurrentUpdateError(err.deliveryId, 'delivery');
  if (err instanceof DeliveryMissingError) return new DeliveryNotFoundError(err.deliveryId);
  if (err instanceof CursorInvalidError) {
    return new ValidationError(
      `cursor: ${err.reason}; pass the nextCursor of the previous page of this same listing, or none for the first page`,
      [{ path: 'query.cursor', message: err.reason }],
    );
  }
  return undefined;
}

export function problemResponse(
  status: number,
  body: { type: string; title: string; detail: string; instance?: string; errors?: unknown },
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/problem+json' },
    body: JSON.stringify({ ...body, type: `${PROBLEM_BASE}${body.type}`, status }),
  };
}

export function problemDetails(opts: {
  logger: Logger;
}): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  if (!opts?.logger) throw new TypeError('problemDetails: option `logger` is required');
  return {
    onError: async (request) => {
      const err = problemOfStoreError(request.error) ?? request.error;
      const instance = request.event?.rawPath;
      if (err instanceof GatewayError) {
        if (err.status >= 500) opts.logger.error('request failed', { error: err });
        else opts.logger.info('request rejected', { problem: err.type, detail: err.detail });
        const response = problemResponse(err.status, {
          type: err.type,
          title: err.title,
          detail: err.detail,
          ...(instance ? { instance } : {}),
          ...(err.errors ? { errors: err.errors } : {}),
        });
        request.response = { ...response, headers: { ...err.headers, ...response.headers } };
        return;
      }
      opts.logger.error('unexpected error', { error: err as Error });
      const requestId = request.event?.requestContext?.requestId;
      request.response = problemResponse(500, {
        type: 'internal-error',
        title: 'Internal error',
        detail: `The gateway failed unexpectedly${requestId ? ` (request ${requestId})` : ''}; retry later or report it with this id.`,
        ...(instance ? { instance } : {}),
      });
    },
  };
}
