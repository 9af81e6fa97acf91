/**
 * The embedded deployment for tests: a fresh temporary state directory, waits and retry pauses of
 * 5 ms, a fast AWS simulator, no logs. `close()` stops everything and removes the directory.
 *
 * Every answer of its HTTP API on a route of openapi.json is checked against the document (status,
 * content type, body schema); `close()` fails with the list of those that do not match, so each
 * test file's afterAll reports them.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayClient } from '../../shared/client/api-client';
import type { CreateOffloadRequest } from '../../shared/client/types';
import { uploadImage } from '../../shared/client/upload';
import { SAMPLE_OVA } from '../../infra/local/demo';
import { startEmbedded, type Embedded, type EmbeddedOptions } from '../../infra/local/embedded';
import type { HttpApiAnswer } from '../../infra/local/http-api';
import { OpenApiValidator, parsedBody } from './openapi-validator';

export interface TestGateway extends Embedded {
  /** Answers so far that do not match openapi.json (one message each). */
  openApiViolations: string[];
}

let validator: OpenApiValidator | undefined;

/** Checks one answer against openapi.json; routes the document does not have (test templates) are skipped. */
function checkAnswer(answer: HttpApiAnswer, violations: string[]): void {
  if (!answer.routeKey) return; // no route: API Gateway's 404
  validator ??= new OpenApiValidator();
  const [method = '', template = ''] = answer.routeKey.split(' ');
  if (validator.templateOf(method, template) !== template) return;
  violations.push(
    ...validator.check({
      method,
      path: template,
      status: answer.status,
      ...(answer.contentType ? { contentType: answer.contentType } : {}),
      body: parsedBody(answer.body),
    }),
  );
}

export const FAST_SIM_TIMING = { phaseMs: 5, terminatedVisibleMs: 1_000 } as const;
/** Azure operations, VM start and deallocation in 5 ms. */
export const FAST_AZURE_TIMING = { phaseMs: 5 } as const;

/** The Azure target the tests offload to (the simulator's resource group is the gateway's default). */
export const AZURE_TARGET = { cloud: 'azure', location: 'westeurope', vmSize: 'Standard_D2s_v5' } as const;
export const AWS_TARGET = { cloud: 'aws', region: 'us-east-1', instanceType: 't3.medium' } as const;

export async function startTestGateway(
  opts: Partial<EmbeddedOptions> & { validateAnswers?: boolean } = {},
): Promise<TestGateway> {
  const { validateAnswers = true, ...options } = opts;
  const stateDir = opts.stateDir ?? (await mkdtemp(join(tmpdir(), 'burstgate-test-')));
  const owned = opts.stateDir === undefined;
  const openApiViolations: string[] = [];
  const embedded = await startEmbedded({
    waitTimeOverrides: 5,
    retryIntervalOverrides: 5,
    simTiming: FAST_SIM_TIMING,
    azure: { timing: FAST_AZURE_TIMING },
    quiet: true,
    ...(validateAnswers
      ? { observeApi: (answer: HttpApiAnswer) => checkAnswer(answer, openApiViolations) }
      : {}),
    ...options,
    stateDir,
  }).catch(async (err: unknown) => {
    if (owned) await rm(stateDir, { recursive: true, force: true });
    throw err;
  });
  const gateway: TestGateway = Object.assign(embedded, { openApiViolations });
  const close = gateway.close;
  let closing: Promise<void> | undefined;
  gateway.close = () =>
    (closing ??= (async () => {
      await close();
      if (owned) await rm(stateDir, { recursive: true, force: true });
      if (openApiViolations.length > 0) {
        throw new Error(
          `${openApiViolations.length} answer(s) of the HTTP API do not match openapi.json:\n${openApiViolations.join('\n')}`,
        );
      }
    })());
  return gateway;
}

/**
 * Creates an offload of `image` (default: the project's sample VM OVA) to simulated AWS (or the
 * `target` given), with `extra` request members (a lease, a launch), and uploads it; returns a
 * client for the gateway and the created job's id.
 */
export async function offloadSample(
  gateway: TestGateway,
  vmName: string,
  image: string = SAMPLE_OVA,
  target: CreateOffloadRequest['target'] = AWS_TARGET,
  imageFormat: CreateOffloadRequest['imageFormat'] = 'ova',
  extra: Pick<CreateOffloadRequest, 'lease' | 'launch'> = {},
  apiKey: string = gateway.apiKey,
): Promise<{ client: GatewayClient; created: { jobId: string } }> {
  const client = new GatewayClient({ baseUrl: gateway.apiUrl, apiKey });
  const created = await client.createOffload(
    {
      vmName,
      imageFormat,
      imageSizeBytes: (await stat(image)).size,
      target,
      ...extra,
    },
    randomUUID(),
  );
  await client.completeUpload(created.jobId, await uploadImage(image, created.upload));
  return { client, created: { jobId: created.jobId } };
}

/** The simulator's live resources, once terminations and deletions under way have finished (bounded wait). */
export async function liveSimResources(gateway: TestGateway): Promise<unknown[]> {
  let live: unknown[] = [];
  for (let i = 0; i < 100; i++) {
    live = Object.values(gateway.sim.resources()).flat();
    if (live.length === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return live;
}

/**
 * One call of the gateway's HTTP API with the local key (and a fresh Idempotency-Key): the status
 * and the parsed body (a problem+json, a view; `{}` when empty).
 */
export async function callApi<B = Record<string, any>>( // eslint-disable-line @typescript-eslint/no-explicit-any
  gateway: TestGateway,
  method: string,
  path: string,
  body?: unknown,
  as: { apiKey?: string; idempotencyKey?: string } = {},
): Promise<{ status: number; body: B }> {
  const res = await fetch(`${gateway.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${as.apiKey ?? gateway.apiKey}`,
      'content-type': 'application/json',
      'idempotency-key': as.idempotencyKey ?? randomUUID(),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as B };
}
