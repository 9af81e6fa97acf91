/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the zod schemas: the requests
 * (requests.ts, schedule-requests.ts, image-cache-view.ts) and the answers (api-schemas.ts).
 * `npm run openapi` writes it to openapi.json; GET /openapi.json serves that file; tests keep the
 * file, this generator and the routes of infra/constructs/api.ts equal.
 */
import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import {
  CreatedOffloadSchema,
  DeletedScheduleSchema,
  GatewayMessageSchema,
  ImageCacheViewSchema,
  JobListSchema,
  JobStateAnswerSchema,
  JobViewSchema,
  LaunchAnswerSchema,
  PrestagedUploadSchema,
  ProblemSchema,
  ScheduleListSchema,
  SchedulePreviewSchema,
  ScheduleViewSchema,
  UploadCompletedSchema,
  DeliveryLogSchema,
  DeletedWebhookSchema,
  ReplayAnswerSchema,
  WebhookListSchema,
  WebhookWithSecretSchema,
} from './api-schemas';
import { CreateWebhookRequest, DeliveryId, RotateSecretRequest, WebhookId } from './webhooks/endpoints';
import { PROBLEM_TYPES, type ProblemType } from './errors';
import { BudgetPath, BudgetRequest, BudgetViewSchema, QuoteRequest, QuoteSchema } from './money-schemas';
import { ROUTE_SCOPES, type RouteKey } from './tenants';
import { ImageCachePath } from './image-cache-view';
import {
  CompleteUploadRequest,
  CreateOffloadRequest,
  IdempotencyKey,
  JobId,
  ListOffloadsQuery,
  TenantQuery,
  UpdateOffloadRequest,
} from './requests';
import {
  CreateScheduleRequest,
  PrestageUploadRequest,
  ListSchedulesQuery,
  PreviewQuery,
  ScheduleRef,
  ScheduleViewQuery,
  UpdateScheduleRequest,
} from './schedule-requests';

export const OPENAPI_VERSION = '3.1.0';
const SECURITY_SCHEME = 'apiKey';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Body = 'none' | 'optional' | 'required';

/** One operation: what it takes, what it answers, which problems it may answer with. */
interface Operation {
  method: Method;
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: z.ZodObject;
  body?: { schema: z.ZodType; required: boolean };
  /** Answers without a body schema of their own (e.g. the document itself) use `z.looseObject({})`. */
  success: Array<{ status: number; description: string; schema: z.ZodType; headers?: z.ZodObject }>;
  problems: ProblemType[];
}

const JobPath = z.object({ id: JobId.meta({ description: 'The job id (`job-…`).' }) });
const WebhookPath = z.object({ id: WebhookId.meta({ description: 'The webhook id (`whk-…`).' }) });
const SchedulePath = z.object({
  id: ScheduleRef.meta({ description: 'The schedule id (`sch-…`) or name.' }),
});
const LocationHeader = z.object({
  Location: z.string().meta({ description: 'The job: `/offloads/<id>`.' }),
});
const ReplayHeaders = LocationHeader.extend({
  'Idempotent-Replayed': z
    .literal('true')
    .optional()
    .meta({ description: 'The answer replays the first one.' }),
});

/** The request bodies, named in components.schemas (zod metadata, once per process). */
const named = <T extends z.ZodType>(schema: T, id: string): T => schema.meta({ id }) as T;
const Bodies = {
  createOffload: named(CreateOffloadRequest, 'CreateOffloadRequest'),
  completeUpload: named(CompleteUploadRequest, 'CompleteUploadRequest'),
  updateOffload: named(UpdateOffloadRequest, 'UpdateOffloadRequest'),
  createSchedule: named(CreateScheduleRequest, 'CreateScheduleRequest'),
  updateSchedule: named(UpdateScheduleRequest, 'UpdateScheduleRequest'),
  prestageUpload: named(PrestageUploadRequest, 'PrestageUploadRequest'),
};

/** Problems every route with a body may answer: not JSON, too large, wrong media type. */
const BODY_PROBLEMS: ProblemType[] = ['malformed-body', 'body-too-large', 'unsupported-media-type'];

function route(
  method: Method,
  path: string,
  operationId: string,
  summary: string,
  rest: Omit<Operation, 'method' | 'path' | 'operationId' | 'summary'>,
): Operation {
  return { method, path, operationId, summary, ...rest };
}

function body(schema: z.ZodType, mode: Exclude<Body, 'none'> = 'required'): Operation['body'] {
  return { schema, required: mode === 'required' };
}

/** Every route of the HTTP API (infra/constructs/api.ts ROUTES has the same METHOD path set: a test compares). */
export function operations(): Operation[] {
  return [
    route('post', '/offloads', 'createOffload', 'Start an offload', {
      description:
        'Creates the job, its multipart upload and the waiting offload workflow. The same Idempotency-Key with the same body replays the first answer.',
      headers: z.object({
        'Idempotency-Key': IdempotencyKey.meta({
          description: '8-255 printable ASCII characters; a fresh one (e.g. a UUID) per new offload.',
        }),
      }),
      body: body(Bodies.createOffload),
      success: [
        {
          status: 202,
          description: 'The job and its upload.',
          schema: CreatedOffloadSchema,
          headers: ReplayHeaders,
        },
      ],
      problems: [
        'validation-failed',
        ...BODY_PROBLEMS,
        'idempotency-key-reused',
        'budget-exceeded',
        'quota-exceeded',
        'prices-unavailable',
        'concurrent-update',
      ],
    }),
    route('get', '/offloads', 'listOffloads', 'List jobs, newest first', {
      description:
        "The key's tenant's jobs, a page at a time: pass `nextCursor` back as `cursor`. `tenant` lists another tenant's (admin).",
      query: ListOffloadsQuery,
      success: [{ status: 200, description: 'The jobs.', schema: JobListSchema }],
      problems: ['validation-failed', 'tenant-not-allowed'],
    }),
    route('get', '/offloads/{id}', 'getOffload', 'One job', {
      params: JobPath,
      success: [{ status: 200, description: 'The job.', schema: JobViewSchema }],
      problems: ['validation-failed', 'job-not-found'],
    }),
    route('delete', '/offloads/{id}', 'cancelOffload', 'Cancel: stop and remove everything the job created', {
      params: JobPath,
      success: [
        {
          status: 202,
          description:
            'Cancelling: the cancel workflow removes what the job created; follow the job (Location) until `cancelled`. Again while it runs: harmless.',
          schema: JobStateAnswerSchema,
          headers: LocationHeader,
        },
        {
          status: 200,
          description: 'The job is cancelled (nothing left to remove).',
          schema: JobStateAnswerSchema,
        },
      ],
      problems: ['validation-failed', 'job-not-found', 'concurrent-update'],
    }),
    route('patch', '/offloads/{id}', 'updateOffload', 'Change the lease', {
      params: JobPath,
      body: body(Bodies.updateOffload),
      success: [{ status: 200, description: 'The job with its new lease and plan.', schema: JobViewSchema }],
      problems: [
        'validation-failed',
        ...BODY_PROBLEMS,
        'job-not-found',
        'invalid-job-state',
        'concurrent-update',
      ],
    }),
    route('post', '/offloads/{id}/upload-complete', 'completeUpload', 'The image is uploaded', {
      params: JobPath,
      body: body(Bodies.completeUpload),
      success: [{ status: 202, description: 'Inspecting.', schema: UploadCompletedSchema }],
      problems: [
        'validation-failed',
        'upload-incomplete',
        ...BODY_PROBLEMS,
        'job-not-found',
        'invalid-job-state',
        'concurrent-update',
      ],
    }),
    route('post', '/offloads/{id}/return', 'startReturn', 'Bring the VM home', {
      params: JobPath,
      body: body(z.looseObject({}), 'optional'),
      success: [{ status: 202, description: 'Returning.', schema: JobStateAnswerSchema }],
      problems: [
        'validation-failed',
        ...BODY_PROBLEMS,
        'job-not-found',
        'invalid-job-state',
        'concurrent-update',
      ],
    }),
    route('post', '/offloads/{id}/launch', 'launchOffload', 'Launch a held VM', {
      params: JobPath,
      body: body(z.looseObject({}), 'optional'),
      success: [{ status: 202, description: 'Released (again: harmless).', schema: LaunchAnswerSchema }],
      problems: [
        'validation-failed',
        ...BODY_PROBLEMS,
        'job-not-found',
        'invalid-job-state',
        'concurrent-update',
      ],
    }),
    route('get', '/offloads/{id}/deliveries', 'listDeliveries', "The job's webhook deliveries", {
      description:
        'Every event sent to the callback URL, newest first, with each attempt (status or error, duration) and the next one when it is due. Deliveries are Standard Webhooks: `webhook-id` (the delivery id), `webhook-timestamp`, `webhook-signature` signed with the `callbackSecret` of POST /offloads.',
      params: JobPath,
      success: [{ status: 200, description: 'The deliveries.', schema: DeliveryLogSchema }],
      problems: ['validation-failed', 'job-not-found'],
    }),
    route('get', '/image-cache/{region}/{vmName}', 'getImageCache', "A VM's cached image (AWS direct)", {
      params: ImageCachePath,
      query: TenantQuery,
      success: [{ status: 200, description: 'The cache entry.', schema: ImageCacheViewSchema }],
      problems: ['validation-failed', 'tenant-not-allowed', 'image-cache-entry-not-found'],
    }),
    route('post', '/schedules', 'createSchedule', 'Create a schedule of burst windows', {
      body: body(Bodies.createSchedule),
      success: [
        { status: 201, description: 'Created.', schema: ScheduleViewSchema, headers: LocationHeader },
        {
          status: 200,
          description: 'The same name and body again.',
          schema: ScheduleViewSchema,
          headers: ReplayHeaders,
        },
      ],
      problems: [
        'validation-failed',
        ...BODY_PROBLEMS,
        'schedule-name-taken',
        'window-overlap',
        'concurrent-update',
      ],
    }),
    route('get', '/schedules', 'listSchedules', 'List schedules', {
      description:
        "The key's tenant's schedules, newest first, a page at a time. `tenant` lists another tenant's (admin).",
      query: ListSchedulesQuery,
      success: [
        { status: 200, description: 'The schedules, each with its next window.', schema: ScheduleListSchema },
      ],
      problems: ['validation-failed', 'tenant-not-allowed'],
    }),
    route('get', '/schedules/preview', 'previewSchedule', 'The next windows of a cron in a zone', {
      query: PreviewQuery,
      success: [{ status: 200, description: 'The openings (and closings).', schema: SchedulePreviewSchema }],
      problems: ['validation-failed'],
    }),
    route('get', '/schedules/{id}', 'getSchedule', 'One schedule', {
      params: SchedulePath,
      query: ScheduleViewQuery,
      success: [
        { status: 200, description: 'The schedule and its next windows.', schema: ScheduleViewSchema },
      ],
      problems: ['validation-failed', 'schedule-not-found'],
    }),
    route('patch', '/schedules/{id}', 'updateSchedule', 'Pause, resume or change a schedule', {
      params: SchedulePath,
      body: body(Bodies.updateSchedule),
      success: [{ status: 200, description: 'The schedule.', schema: ScheduleViewSchema }],
      problems: [
        'validation-failed',
        ...BODY_PROBLEMS,
        'schedule-not-found',
        'window-overlap',
        'concurrent-update',
      ],
    }),
    route('delete', '/schedules/{id}', 'deleteSchedule', 'Delete a schedule', {
      params: SchedulePath,
      success: [
        {
          status: 200,
          description: 'Deleted; jobs of windows not open are cancelled.',
          schema: DeletedScheduleSchema,
        },
      ],
      problems: ['validation-failed', 'schedule-not-found', 'concurrent-update'],
    }),
    route(
      'post',
      '/schedules/{id}/prestage',
      'prestageSchedule',
      "An upload VM's job in the window being pre-staged",
      {
        params: SchedulePath,
        body: body(Bodies.prestageUpload),
        success: [
          {
            status: 202,
            description: 'The job and its upload.',
            schema: PrestagedUploadSchema,
            headers: LocationHeader,
          },
          {
            status: 200,
            description: 'The same VM and window again.',
            schema: PrestagedUploadSchema,
            headers: LocationHeader,
          },
        ],
        problems: [
          'validation-failed',
          ...BODY_PROBLEMS,
          'schedule-not-found',
          'no-open-prestage',
          'concurrent-update',
        ],
      },
    ),
    route('post', '/quotes', 'createQuote', 'Quote a VM across clouds, right-sized, line by line', {
      description:
        "Ranked options for running `vm` (a hardware profile, a `vmName` the gateway has seen, or an OVF document) for `hours`, a `window`, or a schedule's window length in each named AWS region (direct and import modes) and Azure location. Each option names the right-sized type and the cheaper ones rejected, and prices every line (compute, disk, snapshots, staging, egress, the gateway's own fees) with its SKU or meter and effective date. Creates nothing.",
      body: body(named(QuoteRequest, 'QuoteRequest')),
      success: [{ status: 200, description: 'The options, cheapest first.', schema: QuoteSchema }],
      problems: [
        'validation-failed',
        'schedule-not-found',
        'no-quote',
        'prices-unavailable',
        ...BODY_PROBLEMS,
      ],
    }),
    route('put', '/budgets/{tenant}', 'putBudget', "Set a tenant's monthly budget", {
      description:
        'USD per calendar month (UTC). `hard`: an offload whose estimate would pass what is left is refused (409 budget-exceeded) before anything is created; `soft`: it goes on. `thresholds` (default 50, 80, 100) are percentages for alerts. Admin only; the same PUT again changes nothing.',
      params: BudgetPath,
      body: body(named(BudgetRequest, 'BudgetRequest')),
      success: [{ status: 200, description: 'The budget and the month so far.', schema: BudgetViewSchema }],
      problems: ['validation-failed', ...BODY_PROBLEMS],
    }),
    route('get', '/budgets/{tenant}', 'getBudget', "A tenant's budget and the month so far", {
      description: "Another tenant's needs the admin scope.",
      params: BudgetPath,
      success: [{ status: 200, description: 'The budget.', schema: BudgetViewSchema }],
      problems: ['validation-failed', 'budget-not-found'],
    }),
    route('get', '/budget', 'getOwnBudget', "The caller's tenant's budget and the month so far", {
      success: [{ status: 200, description: 'The budget.', schema: BudgetViewSchema }],
      problems: ['budget-not-found'],
    }),
    route('post', '/webhooks', 'createWebhook', 'Add a webhook endpoint of the tenant', {
      description:
        "Every event of the tenant's jobs and schedules whose type is in `events` (or `*`) goes to `url`, signed (Standard Webhooks) with the secret this answer carries once.",
      body: body(named(CreateWebhookRequest, 'CreateWebhookRequest')),
      success: [
        { status: 201, description: 'The endpoint and its secret.', schema: WebhookWithSecretSchema },
      ],
      problems: ['validation-failed', ...BODY_PROBLEMS],
    }),
    route('get', '/webhooks', 'listWebhooks', "The tenant's webhook endpoints", {
      query: TenantQuery,
      success: [{ status: 200, description: 'The endpoints (no secrets).', schema: WebhookListSchema }],
      problems: ['validation-failed', 'tenant-not-allowed'],
    }),
    route('delete', '/webhooks/{id}', 'deleteWebhook', 'Remove a webhook endpoint', {
      params: WebhookPath,
      success: [{ status: 200, description: 'Removed.', schema: DeletedWebhookSchema }],
      problems: ['validation-failed', 'webhook-not-found'],
    }),
    route('post', '/webhooks/{id}/rotate-secret', 'rotateWebhookSecret', "Rotate an endpoint's secret", {
      description:
        'A new secret signs from now on; the current ones keep signing beside it for `overlapSeconds` (default 86400), then stop.',
      params: WebhookPath,
      body: body(named(RotateSecretRequest, 'RotateSecretRequest'), 'optional'),
      success: [
        { status: 200, description: 'The endpoint and its new secret.', schema: WebhookWithSecretSchema },
      ],
      problems: ['validation-failed', ...BODY_PROBLEMS, 'webhook-not-found', 'concurrent-update'],
    }),
    route('get', '/webhooks/{id}/deliveries', 'listWebhookDeliveries', "An endpoint's deliveries", {
      params: WebhookPath,
      success: [{ status: 200, description: 'The deliveries, newest first.', schema: DeliveryLogSchema }],
      problems: ['validation-failed', 'webhook-not-found'],
    }),
    route(
      'post',
      '/webhooks/{id}/deliveries/{deliveryId}/replay',
      'replayWebhookDelivery',
      'Send a delivery again',
      {
        description: 'The same body under the same webhook-id, with a fresh retry schedule.',
        params: WebhookPath.extend({ deliveryId: DeliveryId }),
        body: body(z.looseObject({}), 'optional'),
        success: [{ status: 202, description: 'Sending.', schema: ReplayAnswerSchema }],
        problems: ['validation-failed', ...BODY_PROBLEMS, 'webhook-not-found', 'delivery-not-found'],
      },
    ),
    route('get', '/openapi.json', 'getOpenApi', 'This document', {
      success: [
        {
          status: 200,
          description: 'The OpenAPI 3.1 document of the API.',
          schema: z.looseObject({ openapi: z.string() }),
        },
      ],
      problems: [],
    }),
  ];
}

/** The answers API Gateway gives on every route, before or instead of the function. */
const GATEWAY_ANSWERS: Record<number, string> = {
  401: 'No `Authorization` header (API Gateway: `{"message":"Unauthorized"}`).',
  403: 'The key is not known, revoked or expired (the authorizer denies: `{"message":"Forbidden"}`).',
  413: 'The request is larger than API Gateway takes (10 MB).',
  429: 'Throttled by the stage (`{"message":"Too Many Requests"}`); retry with backoff.',
  500: 'The function failed (`{"message":"Internal Server Error"}`).',
};

function errorResponses(problems: ProblemType[]): NonNullable<RouteConfig['responses']> {
  const byStatus = new Map<number, ProblemType[]>();
  for (const p of [...problems, 'internal-error' as const]) {
    const status = PROBLEM_TYPES[p];
    byStatus.set(status, [...(byStatus.get(status) ?? []), p]);
  }
  for (const status of Object.keys(GATEWAY_ANSWERS).map(Number))
    byStatus.set(status, byStatus.get(status) ?? []);
  const responses: NonNullable<RouteConfig['responses']> = {};
  for (const status of [...byStatus.keys()].sort((a, b) => a - b)) {
    const types = byStatus.get(status) ?? [];
    const gateway = GATEWAY_ANSWERS[status];
    const description = [
      ...(types.length
        ? [`Problem${types.length > 1 ? 's' : ''}: ${types.map((t) => `\`${t}\``).join(', ')}.`]
        : []),
      ...(gateway ? [gateway] : []),
    ].join(' ');
    responses[status] = {
      description,
      content: {
        ...(types.length ? { 'application/problem+json': { schema: ProblemSchema } } : {}),
        ...(gateway ? { 'application/json': { schema: GatewayMessageSchema } } : {}),
      },
    };
  }
  return responses;
}

function toRouteConfig(op: Operation): RouteConfig {
  const scope = ROUTE_SCOPES[`${op.method.toUpperCase()} ${op.path}` as RouteKey];
  const needs = scope
    ? `Needs an API key with the scope \`${scope}\` (or \`admin\`); without it: 403 \`scope-missing\`.`
    : 'Any valid API key.';
  const description = [op.description, needs].filter(Boolean).join(' ');
  const responses: NonNullable<RouteConfig['responses']> = {};
  for (const s of op.success) {
    responses[s.status] = {
      description: s.description,
      ...(s.headers ? { headers: s.headers } : {}),
      content: { 'application/json': { schema: s.schema } },
    };
  }
  return {
    method: op.method,
    path: op.path,
    operationId: op.operationId,
    summary: op.summary,
    description,
    request: {
      ...(op.params ? { params: op.params } : {}),
      ...(op.query ? { query: op.query } : {}),
      ...(op.headers ? { headers: op.headers } : {}),
      ...(op.body
        ? {
            body: {
              required: op.body.required,
              content: { 'application/json': { schema: op.body.schema } },
            },
          }
        : {}),
    },
    responses: { ...responses, ...errorResponses(scope ? ['scope-missing', ...op.problems] : op.problems) },
  };
}

/** Sorts object keys recursively (arrays keep their order), so the written file is stable. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** The document, keys sorted. */
export function openApiDocument(version: string): Record<string, unknown> {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', SECURITY_SCHEME, {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'bg_<43 base64url characters>',
    description:
      'An API key: `Authorization: Bearer bg_…`. The gateway keeps only its SHA-256 (`burstgate api-key create`).',
  });
  for (const op of operations()) registry.registerPath(toRouteConfig(op));
  const doc = new OpenApiGeneratorV31(registry.definitions, {
    sortComponents: 'alphabetically',
  }).generateDocument({
    openapi: OPENAPI_VERSION,
    info: {
      title: 'burstgate',
      version,
      description:
        'Move VMware VMs into AWS or Azure for a while and bring them home. Errors are RFC 9457 problems (`application/problem+json`); README.md: The HTTP API.',
    },
    security: [{ [SECURITY_SCHEME]: [] }],
  });
  return sortKeys(doc) as Record<string, unknown>;
}
