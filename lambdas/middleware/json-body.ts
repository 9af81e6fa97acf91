/** Parses a JSON request body into `event.parsedBody`; a malformed or non-JSON body is a 400 that changes nothing. */
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { GatewayError, MalformedBodyError, PROBLEM_TYPES } from '../../shared/domain/errors';

export type JsonEvent = APIGatewayProxyEventV2 & { parsedBody?: unknown };

export function jsonBody(opts: { required: boolean; maxBytes?: number }): MiddlewareObj<JsonEvent> {
  if (typeof opts?.required !== 'boolean')
    throw new TypeError('jsonBody: option `required` (boolean) is required');
  const maxBytes = opts.maxBytes ?? 1024 * 1024;
  if (!Number.isInteger(maxBytes) || maxBytes <= 0)
    throw new TypeError('jsonBody: `maxBytes` must be a positive integer');
  return {
    before: async (request) => {
      const event = request.event;
      const raw = event.body
        ? event.isBase64Encoded
          ? Buffer.from(event.body, 'base64').toString('utf8')
          : event.body
        : '';
      if (!raw) {
        if (opts.required) throw new MalformedBodyError('the request has no body; send a JSON object');
        return;
      }
      const contentType = event.headers?.['content-type'] ?? '';
      if (!/^application\/([a-z.+-]*\+)?json\b/i.test(contentType)) {
        throw new GatewayError(
          'unsupported-media-type',
          PROBLEM_TYPES['unsupported-media-type'],
          'The body must be JSON',
          `Content-Type '${contentType || '(none)'}' is not JSON; send Content-Type: application/json`,
        );
      }
      if (Buffer.byteLength(raw) > maxBytes) {
        throw new GatewayError(
          'body-too-large',
          PROBLEM_TYPES['body-too-large'],
          'The body is too large',
          `the body exceeds ${maxBytes} bytes`,
        );
      }
      try {
        event.parsedBody = JSON.parse(raw);
      } catch (err) {
        throw new MalformedBodyError(`the body is not valid JSON: ${(err as Error).message}`);
      }
    },
  };
}
