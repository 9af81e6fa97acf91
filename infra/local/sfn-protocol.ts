/**
 * The Step Functions JSON 1.0 protocol (`X-Amz-Target: AWSStepFunctions.<Operation>`, POST, JSON
 * bodies, dates as epoch seconds, errors as `{ "__type", "message" }`), so `@aws-sdk/client-sfn`
 * talks to the local service unchanged.
 */
import type http from 'node:http';
import { LOCAL_ACCOUNT_ID } from './constants';
import { readBody, sendJson } from './http-util';
import { SfnApiError, type ExecutionRecord, type ExecutionStatus, type StateMachineInfo } from './sfn-model';

const SFN_CONTENT_TYPE = 'application/x-amz-json-1.0';

/** The operations the protocol front calls (what LocalStepFunctions offers). */
export interface SfnOperations {
  startExecution(req: { stateMachineArn?: unknown; name?: unknown; input?: unknown }): {
    executionArn: string;
    startDate: Date;
  };
  describeExecution(executionArn: unknown): ExecutionRecord;
  stopExecution(executionArn: unknown, error?: string, cause?: string): { stopDate: Date };
  sendTaskSuccess(taskToken: unknown, output: unknown): void;
  sendTaskFailure(taskToken: unknown, error?: unknown, cause?: unknown): void;
  sendTaskHeartbeat(taskToken: unknown): void;
  listExecutions(stateMachineArn?: string, statusFilter?: ExecutionStatus): ExecutionRecord[];
  describeStateMachine(stateMachineArn: string): StateMachineInfo | undefined;
  listStateMachines(): StateMachineInfo[];
}

const seconds = (d: Date | undefined) => (d ? d.getTime() / 1000 : undefined);

/** What DescribeExecution and ListExecutions both say of an execution. */
const executionSummary = (r: ExecutionRecord) => ({
  executionArn: r.executionArn,
  stateMachineArn: r.stateMachineArn,
  name: r.name,
  status: r.status,
  startDate: seconds(r.startDate),
  stopDate: seconds(r.stopDate),
});

/** The node:http request listener of the service's endpoint. */
export function sfnRequestListener(
  service: SfnOperations,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    handleHttp(service, req, res).catch((err: unknown) => {
      if (!res.headersSent)
        sendJson(res, 500, { __type: 'InternalFailure', message: String(err) }, SFN_CONTENT_TYPE);
    });
  };
}

async function handleHttp(
  service: SfnOperations,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const target = String(req.headers['x-amz-target'] ?? '');
  const op = target.startsWith('AWSStepFunctions.') ? target.slice('AWSStepFunctions.'.length) : '';
  const reply = (status: number, body: unknown) => sendJson(res, status, body, SFN_CONTENT_TYPE);
  try {
    if (req.method !== 'POST') throw new SfnApiError('UnknownOperationException', 'POST only');
    let body: Record<string, unknown> = {};
    const raw = (await readBody(req)).toString('utf8');
    if (raw.trim()) {
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        throw new SfnApiError('SerializationException', 'request body is not JSON');
      }
    }
    reply(200, dispatch(service, op, body));
  } catch (err) {
    if (err instanceof SfnApiError) reply(err.status, { __type: err.code, message: err.message });
    else reply(500, { __type: 'InternalFailure', message: (err as Error).message });
  }
}

function dispatch(service: SfnOperations, op: string, body: Record<string, unknown>): unknown {
  switch (op) {
    case 'StartExecution': {
      const out = service.startExecution(body);
      return { executionArn: out.executionArn, startDate: seconds(out.startDate) };
    }
    case 'DescribeExecution': {
      const r = service.describeExecution(body.executionArn);
      return {
        ...executionSummary(r),
        input: r.input,
        inputDetails: { included: true },
        ...(r.output !== undefined ? { output: r.output, outputDetails: { included: true } } : {}),
        ...(r.error ? { error: r.error } : {}),
        ...(r.cause ? { cause: r.cause } : {}),
      };
    }
    case 'StopExecution': {
      const out = service.stopExecution(
        body.executionArn,
        typeof body.error === 'string' ? body.error : undefined,
        typeof body.cause === 'string' ? body.cause : undefined,
      );
      return { stopDate: seconds(out.stopDate) };
    }
    case 'SendTaskSuccess':
      service.sendTaskSuccess(body.taskToken, body.output);
      return {};
    case 'SendTaskFailure':
      service.sendTaskFailure(body.taskToken, body.error, body.cause);
      return {};
    case 'SendTaskHeartbeat':
      service.sendTaskHeartbeat(body.taskToken);
      return {};
    case 'ListExecutions': {
      const arn = body.stateMachineArn;
      if (typeof arn !== 'string' || !service.describeStateMachine(arn)) {
        throw new SfnApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${String(arn)}'`);
      }
      const all = service.listExecutions(arn, body.statusFilter as ExecutionStatus | undefined);
      const start = typeof body.nextToken === 'string' ? Number(body.nextToken) || 0 : 0;
      const max = typeof body.maxResults === 'number' && body.maxResults > 0 ? body.maxResults : 100;
      const page = all.slice(start, start + max);
      return {
        executions: page.map(executionSummary),
        ...(start + max < all.length ? { nextToken: String(start + max) } : {}),
      };
    }
    case 'ListStateMachines':
      return {
        stateMachines: service.listStateMachines().map((m) => ({
          stateMachineArn: m.arn,
          name: m.name,
          type: 'STANDARD',
          creationDate: seconds(m.createdAt),
        })),
      };
    case 'DescribeStateMachine': {
      const machine = service.describeStateMachine(String(body.stateMachineArn));
      if (!machine) {
        throw new SfnApiError(
          'StateMachineDoesNotExist',
          `State Machine Does Not Exist: '${String(body.stateMachineArn)}'`,
        );
      }
      return {
        stateMachineArn: machine.arn,
        name: machine.name,
        status: 'ACTIVE',
        definition: JSON.stringify(machine.definition),
        roleArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${machine.name}-role`,
        type: 'STANDARD',
        creationDate: seconds(machine.createdAt),
      };
    }
    default:
      throw new SfnApiError(
        'UnknownOperationException',
        `operation ${op || '(none)'} is not supported locally`,
      );
  }
}
