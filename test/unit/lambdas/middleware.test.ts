import { describe, expect, it } from 'vitest';
import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { jsonBody, type JsonEvent } from '../../../lambdas/middleware/json-body';
import { problemDetails } from '../../../lambdas/middleware/problem-details';
import { JobNotFoundError } from '../../../shared/domain/errors';
import {
  IdempotencyKeyConflictError,
  ImageCacheConflictError,
  JobMissingError,
  JobWriteConflictError,
} from '../../../shared/store/errors';

const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });

function event(
  body?: string,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): JsonEvent {
  return {
    version: '2.0',
    routeKey: 'POST /offloads',
    rawPath: '/offloads',
    rawQueryString: '',
    headers,
    body,
    isBase64Encoded: false,
    requestContext: { requestId: 'req-1' } as APIGatewayProxyEventV2['requestContext'],
  };
}

function handler(fn: (e: JsonEvent) => Promise<APIGatewayProxyStructuredResultV2>) {
  return middy<JsonEvent, APIGatewayProxyStructuredResultV2>()
    .use(problemDetails({ logger }))
    .use(jsonBody({ required: true, maxBytes: 64 }))
    .handler(fn);
}

const ok = async (e: JsonEvent) => ({ statusCode: 200, body: JSON.stringify(e.parsedBody) });
const problem = (r: APIGatewayProxyStructuredResultV2) =>
  JSON.parse(String(r.body)) as Record<string, unknown>;

describe('jsonBody + problemDetails', () => {
  it('passes a JSON body to the handler', async () => {
    const res = await handler(ok)(event('{"a":1}'), {} as never);
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('{"a":1}');
  });

  it('turns a malformed body into a 400 problem that names the JSON error', async () => {
    // Act
    const res = await handler(ok)(event('{"a":'), {} as never);
    // Assess
    expect(res.statusCode).toBe(400);
    expect(res.headers?.['content-type']).toBe('application/problem+json');
    expect(problem(res)).toMatchObject({
      type: 'https://burstgate.dev/problems/malformed-body',
      status: 400,
      instance: '/offloads',
    });
  });

  it('refuses a missing body, a non-JSON content type and an oversized body', async () => {
    expect((await handler(ok)(event(undefined), {} as never)).statusCode).toBe(400);
    expect((await handler(ok)(event('a=1', { 'content-type': 'text/plain' }), {} as never)).statusCode).toBe(
      415,
    );
    expect((await handler(ok)(event(JSON.stringify({ x: 'y'.repeat(100) })), {} as never)).statusCode).toBe(
      413,
    );
  });

  it('maps a GatewayError to its status and type', async () => {
    const res = await handler(async () => {
      throw new JobNotFoundError('job-x');
    })(event('{}'), {} as never);
    expect(res.statusCode).toBe(404);
    expect(problem(res)).toMatchObject({
      type: 'https://burstgate.dev/problems/job-not-found',
      title: 'No such job',
    });
  });

  it("maps the store's errors to the problems they mean to the caller", async () => {
    // Prepare
    const thrown = [
      new JobMissingError('job-gone'),
      new IdempotencyKeyConflictError('key-1', 'job-first'),
      new JobWriteConflictError('job-busy', 8),
    ];
    // Act
    const answers = await Promise.all(
      thrown.map((err) =>
        handler(async () => {
          throw err;
        })(event('{}'), {} as never),
      ),
    );
    // Assess
    expect(answers.map((r) => [r.statusCode, problem(r).type])).toEqual([
      [404, 'https://burstgate.dev/problems/job-not-found'],
      [409, 'https://burstgate.dev/problems/idempotency-key-reused'],
      [503, 'https://burstgate.dev/problems/concurrent-update'],
    ]);
    expect(String(problem(answers[0]!).detail)).toContain('job-gone');
    expect(String(problem(answers[1]!).detail)).toContain('job-first');
  });

  it("keeps a store error that is not the caller's to see behind the generic 500", async () => {
    // Act
    const res = await handler(async () => {
      throw new ImageCacheConflictError('eu-west-1', 'vm-1');
    })(event('{}'), {} as never);
    // Assess
    expect(res.statusCode).toBe(500);
    expect(problem(res).type).toBe('https://burstgate.dev/problems/internal-error');
  });

  it('hides anything unexpected behind a generic 500 with the request id', async () => {
    // Act
    const res = await handler(async () => {
      throw new Error('secret table name burstgate-jobs-XYZ');
    })(event('{}'), {} as never);
    // Assess
    expect(res.statusCode).toBe(500);
    const body = problem(res);
    expect(body.type).toBe('https://burstgate.dev/problems/internal-error');
    expect(String(body.detail)).toContain('req-1');
    expect(String(body.detail)).not.toContain('secret');
  });

  it('validates its options', () => {
    expect(() => jsonBody({} as never)).toThrow(TypeError);
    expect(() => jsonBody({ required: true, maxBytes: -1 })).toThrow(TypeError);
    expect(() => problemDetails({} as never)).toThrow(TypeError);
  });
});
