/**
 * The EventBridge Scheduler REST-JSON protocol, as `@aws-sdk/client-scheduler` speaks it:
 *
 *   POST/GET/PUT/DELETE /schedules/{Name}   Create/Get/Update/DeleteSchedule (`?groupName=` on GET and
 *                                           DELETE, `?clientToken=` on DELETE; GroupName in the body
 *                                           of POST and PUT)
 *   GET /schedules                          ListSchedules (?ScheduleGroup, NamePrefix, State, MaxResults, NextToken)
 *   POST/GET/DELETE /schedule-groups/{Name} Create/Get/DeleteScheduleGroup (`?clientToken=` on DELETE)
 *   GET /schedule-groups                    ListScheduleGroups (?NamePrefix, MaxResults, NextToken)
 *
 * Bodies are JSON (`application/json`); timestamps are epoch seconds (the SDK sends fractions, e.g.
 * `1790000000.123`). Errors carry the code in `x-amzn-errortype` (what the SDK reads first) and
 * `{ "Message": … }`, with the status of the error shape: ValidationException 400,
 * ResourceNotFoundException 404, ConflictException 409, InternalServerException 500.
 */
import type http from 'node:http';
import { BodyTooLargeError, readBody, sendJson } from './http-util';
import {
  SchedulerApiError,
  validationError,
  type GroupRecord,
  type ScheduleRecord,
  type ScheduleState,
} from './scheduler-model';
import { NAME_PATTERN, Violations } from './scheduler-validation';

export interface ListQuery {
  group?: string;
  prefix?: string;
  state?: ScheduleState;
  max: number;
  token?: string;
}

export interface Page<T> {
  items: T[];
  next?: string;
}

/** The operations the protocol front calls (what LocalScheduler offers). */
export interface SchedulerOperations {
  createSchedule(name: string, body: Record<string, unknown>): { ScheduleArn: string };
  getSchedule(name: string, group: string | undefined): ScheduleRecord;
  updateSchedule(name: string, body: Record<string, unknown>): { ScheduleArn: string };
  deleteSchedule(name: string, group: string | undefined, clientToken: string | undefined): void;
  listSchedules(query: ListQuery): Page<ScheduleRecord>;
  createScheduleGroup(name: string, body: Record<string, unknown>): { ScheduleGroupArn: string };
  getScheduleGroup(name: string): GroupRecord;
  deleteScheduleGroup(name: string, clientToken: string | undefined): void;
  listScheduleGroups(query: ListQuery): Page<GroupRecord>;
}

const seconds = (d: Date | undefined) => (d ? d.getTime() / 1000 : undefined);
/** 1 MiB: far above any valid request (the largest member, Target.Input, is capped at 256 KiB). */
const MAX_BODY_BYTES = 1024 * 1024;

/** GetSchedule's output: every member the schedule has. */
export function scheduleOutput(r: ScheduleRecord): Record<string, unknown> {
  return {
    Arn: r.Arn,
    Name: r.Name,
    GroupName: r.GroupName,
    ScheduleExpression: r.ScheduleExpression,
    ScheduleExpressionTimezone: r.ScheduleExpressionTimezone,
    StartDate: seconds(r.StartDate),
    EndDate: seconds(r.EndDate),
    Description: r.Description,
    State: r.State,
    CreationDate: seconds(r.CreationDate),
    LastModificationDate: seconds(r.LastModificationDate),
    KmsKeyArn: r.KmsKeyArn,
    Target: r.Target,
    FlexibleTimeWindow: r.FlexibleTimeWindow,
    ActionAfterCompletion: r.ActionAfterCompletion,
  };
}

function groupOutput(g: GroupRecord): Record<string, unknown> {
  return {
    Arn: g.Arn,
    Name: g.Name,
    State: 'ACTIVE',
    CreationDate: seconds(g.CreationDate),
    LastModificationDate: seconds(g.LastModificationDate),
  };
}

/** The node:http request listener of the service's endpoint. */
export function schedulerRequestListener(
  service: SchedulerOperations,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    handle(service, req, res).catch((err: unknown) => {
      if (!res.headersSent)
        replyError(res, new SchedulerApiError('InternalServerException', String(err), 500));
    });
  };
}

function replyError(res: http.ServerResponse, err: SchedulerApiError): void {
  sendJson(res, err.status, { Message: err.message }, 'application/json', { 'x-amzn-errortype': err.code });
}

async function handle(service: SchedulerOperations, req: http.IncomingMessage, res: http.ServerResponse) {
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let raw: Buffer;
    try {
      raw = await readBody(req, MAX_BODY_BYTES);
    } catch (err) {
      if (err instanceof BodyTooLargeError) throw validationError('The request body is too large.');
      throw err;
    }
    sendJson(res, 200, route(service, req.method ?? 'GET', url, raw));
  } catch (err) {
    if (err instanceof SchedulerApiError) replyError(res, err);
    else replyError(res, new SchedulerApiError('InternalServerException', (err as Error).message, 500));
  }
}

function route(service: SchedulerOperations, method: string, url: URL, raw: Buffer): unknown {
  const [collection, label, ...rest] = url.pathname.split('/').slice(1);
  const q = url.searchParams;
  const name = label === undefined ? undefined : decodeLabel(label);
  if (rest.length === 0 && collection === 'schedules') {
    if (name === undefined && method === 'GET') {
      const page = service.listSchedules(listQuery(q, true));
      return {
        Schedules: page.items.map((r) => ({
          Arn: r.Arn,
          Name: r.Name,
          GroupName: r.GroupName,
          State: r.State,
          CreationDate: seconds(r.CreationDate),
          LastModificationDate: seconds(r.LastModificationDate),
          Target: { Arn: r.Target.Arn },
        })),
        NextToken: page.next,
      };
    }
    if (name !== undefined) {
      switch (method) {
        case 'POST':
          return service.createSchedule(name, jsonBody(raw));
        case 'GET':
          return scheduleOutput(service.getSchedule(name, q.get('groupName') ?? undefined));
        case 'PUT':
          return service.updateSchedule(name, jsonBody(raw));
        case 'DELETE':
          service.deleteSchedule(name, q.get('groupName') ?? undefined, q.get('clientToken') ?? undefined);
          return {};
      }
    }
  }
  if (rest.length === 0 && collection === 'schedule-groups') {
    if (name === undefined && method === 'GET') {
      const page = service.listScheduleGroups(listQuery(q, false));
      return { ScheduleGroups: page.items.map(groupOutput), NextToken: page.next };
    }
    if (name !== undefined) {
      switch (method) {
        case 'POST':
          return service.createScheduleGroup(name, jsonBody(raw));
        case 'GET':
          return groupOutput(service.getScheduleGroup(name));
        case 'DELETE':
          service.deleteScheduleGroup(name, q.get('clientToken') ?? undefined);
          return {};
      }
    }
  }
  throw new SchedulerApiError(
    'UnknownOperationException',
    `${method} ${url.pathname} is not an operation the local EventBridge Scheduler supports`,
    404,
  );
}

function decodeLabel(label: string): string {
  try {
    return decodeURIComponent(label);
  } catch {
    throw validationError(`The name in the path (${label}) is not valid percent-encoding.`);
  }
}

function jsonBody(raw: Buffer): Record<string, unknown> {
  const text = raw.toString('utf8');
  if (!text.trim()) return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw validationError('The request body is not JSON.');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw validationError('The request body is not a JSON object.');
  }
  return body as Record<string, unknown>;
}

/** The list operations' query: MaxResults 1-100 (default 100), names and prefixes as the model says. */
function listQuery(q: URLSearchParams, schedules: boolean): ListQuery {
  const v = new Violations();
  const nameRule = { min: 1, max: 64, pattern: NAME_PATTERN };
  const group = schedules ? v.str(q.get('ScheduleGroup') ?? undefined, 'groupName', nameRule) : undefined;
  const prefix = v.str(q.get('NamePrefix') ?? undefined, 'namePrefix', nameRule);
  const state = schedules
    ? (v.str(q.get('State') ?? undefined, 'state', { values: ['ENABLED', 'DISABLED'] }) as
        ScheduleState | undefined)
    : undefined;
  const token = v.str(q.get('NextToken') ?? undefined, 'nextToken', { min: 1, max: 2048 });
  const maxText = q.get('MaxResults');
  const max = maxText === null ? undefined : v.int(Number(maxText), 'maxResults', { min: 1, max: 100 });
  v.check();
  return {
    ...(group !== undefined ? { group } : {}),
    ...(prefix !== undefined ? { prefix } : {}),
    ...(state !== undefined ? { state } : {}),
    ...(token !== undefined ? { token } : {}),
    max: max ?? 100,
  };
}
