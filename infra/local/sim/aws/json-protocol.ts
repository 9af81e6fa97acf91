/**
 * The AWS JSON 1.1 protocol the simulator speaks besides EC2's Query protocol: a POST whose
 * `X-Amz-Target` header names `<Service>.<Operation>` and whose body is the input as JSON; errors
 * come back as `{"__type": "<Code>", "message": "…"}`, the shape the SDK's deserializers read.
 * Used by the Price List Query API (`AWSPriceListService`) and Cost Explorer
 * (`AWSInsightsIndexService`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export class JsonServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'JsonServiceError';
  }
}

export type JsonOperation = (input: Record<string, unknown>) => unknown;

const CONTENT_TYPE = 'application/x-amz-json-1.1';

export interface JsonCallHooks {
  /** A fault to answer instead, by operation name (`GetProducts`). */
  fault(operation: string): JsonServiceError | undefined;
  record(operation: string, error?: string): void;
}

export async function answerJson(
  target: string,
  operations: Readonly<Record<string, JsonOperation>>,
  body: string,
  res: ServerResponse,
  requestId: string,
  hooks: JsonCallHooks,
): Promise<void> {
  const operation = target.split('.').pop() ?? '';
  const send = (status: number, payload: unknown) => {
    const text = JSON.stringify(payload);
    res.writeHead(status, {
      'content-type': CONTENT_TYPE,
      'content-length': Buffer.byteLength(text),
      'x-amzn-requestid': requestId,
    });
    res.end(text);
  };
  try {
    const op = operations[target];
    if (!op)
      throw new JsonServiceError('UnknownOperationException', `The operation ${target} is not served here`);
    const fault = hooks.fault(operation);
    if (fault) throw fault;
    let input: unknown;
    try {
      input = body.length ? JSON.parse(body) : {};
    } catch {
      throw new JsonServiceError('SerializationException', 'The request body is not JSON');
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new JsonServiceError('SerializationException', 'The request body must be a JSON object');
    }
    const out = await op(input as Record<string, unknown>);
    hooks.record(operation);
    send(200, out);
  } catch (err) {
    const e =
      err instanceof JsonServiceError
        ? err
        : new JsonServiceError(
            'InternalErrorException',
            `An internal error has occurred. (${(err as Error).message})`,
            500,
          );
    if (!(err instanceof JsonServiceError)) console.error('aws-sim: internal error', err);
    hooks.record(operation || '(none)', e.type);
    send(e.status, { __type: e.type, message: e.message });
  }
}

/** Whether a request speaks JSON 1.1 (its target header), and the target. */
export function jsonTarget(req: IncomingMessage): string | undefined {
  const t = req.headers['x-amz-target'];
  return typeof t === 'string' && t !== '' ? t : undefined;
}
