/**
 * The embedded deployment: everything the cloud deployment has, on 127.0.0.1, running the same
 * handlers and the same state machine definitions (read from the synthesized template).
 *
 *   S3 → s3rver · DynamoDB → dynalite (LevelDB on disk) · EC2/VM Import → the AWS simulator ·
 *   Step Functions → aws-local-stepfunctions behind the SFN JSON protocol · EventBridge → a
 *   PutEvents recorder · EventBridge Scheduler → a local Scheduler on a movable clock (scheduler.ts)
 *   · API Gateway → a payload-2.0 HTTP server with the Lambda authorizer.
 *
 *   Azure Resource Manager, Entra ID and the disks' blob endpoint → the Azure simulator (+ Azurite).
 *
 * State lives under `stateDir` (s3/, dynamodb/, aws-sim/, azure-sim/, step-functions/, scheduler/, events.jsonl, api-key):
 * a restart with the same directory keeps jobs, objects, simulated cloud resources, execution
 * records and the API key. Executions that were running when the process stopped are not resumed
 * (they end ABORTED).
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EBSClient } from '@aws-sdk/client-ebs';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { CreateScheduleGroupCommand } from '@aws-sdk/client-scheduler';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  LEASE_DEFAULTS,
  createDeps,
  type Endpoints,
  type GatewayConfig,
  type GatewayDeps,
} from '../../shared/runtime/deps';
import { LocalClock } from './clock';
import { startScheduler, type LocalScheduler } from './scheduler';
import {
  LOCAL_BUCKET_NAME,
  LOCAL_CREDENTIALS,
  LOCAL_EVENT_BUS_NAME,
  LOCAL_ACCOUNT_ID,
  LOCAL_REGION,
  LOCAL_TABLE_NAME,
  localStateMachineArn,
} from './constants';
import { startEvents, type LocalEvents } from './events';
import { startHttpApi, type HttpApiOptions, type LocalHttpApi } from './http-api';
import { closeServer, listen } from './http-util';
import { LambdaHost } from './lambda-host';
import { resumeInterruptedJobs } from './resume';
import { ApiKeyStore, newApiKey } from '../../shared/store/api-key-store';
import { ensureJobsTable } from './jobs-table';
import { newJobId } from '../../shared/domain/ids';
import { DEFAULT_TENANT, LEGACY_SCOPES } from '../../shared/domain/tenants';
import { startS3 } from './s3';
import { startAwsSimulator, type AwsSimFaults, type AwsSimTiming, type AwsSimulator } from './sim/aws/index';
import {
  startAzureSimulator,
  type AzureSimFaults,
  type AzureSimTiming,
  type AzureSimulator,
} from './sim/azure/index';
import { startStepFunctions, type LocalStepFunctions } from './step-functions';
import { readTemplate, type LocalTemplate } from './template';
import {
  CANCEL_STATE_MACHINE_NAME,
  OFFLOAD_STATE_MACHINE_NAME,
  RETURN_STATE_MACHINE_NAME,
  TIMER_STATE_MACHINE_NAME,
  WEBHOOK_STATE_MACHINE_NAME,
} from '../constructs/names';

export interface EmbeddedPorts {
  api?: number;
  s3?: number;
  dynamodb?: number;
  ec2?: number;
  sfn?: number;
  events?: number;
  scheduler?: number;
}

export interface EmbeddedOptions {
  /** Where every local service keeps its state; created if missing. */
  stateDir: string;
  /** Fixed ports (default: random free ports on 127.0.0.1). */
  ports?: EmbeddedPorts;
  /** Wait state durations (ms): one number for every Wait state, or by state name (the others: 100). Default 100. */
  waitTimeOverrides?: number | Record<string, number>;
  /** Retry pauses (ms): one number for every retrier, or by state name (the others: 100). Default 100. */
  retryIntervalOverrides?: number | Record<string, number | number[]>;
  simTiming?: Partial<AwsSimTiming>;
  simFaults?: AwsSimFaults;
  /** The Azure simulator (default: started, default timing). `false`: no Azure (AWS only). */
  azure?: false | { timing?: Partial<AzureSimTiming>; faults?: AzureSimFaults };
  /** Gateway settings of the Azure side (default: EMBEDDED_AZURE). */
  azureSettings?: Partial<typeof EMBEDDED_AZURE>;
  /** No handler logs, no request/execution lines. */
  quiet?: boolean;
  /** Level of the handlers' Powertools logs when not quiet (default: the Logger's, INFO). */
  handlerLogLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'CRITICAL' | 'SILENT';
  /** Where request/execution lines go when not quiet (default: stderr). */
  log?: (line: string) => void;
  /** Sees every HTTP API answer (tests validate them against openapi.json). */
  observeApi?: HttpApiOptions['observe'];
  /** Use this template instead of synthesizing the stack (tests of the embedded deployment itself). */
  template?: Record<string, unknown>;
  /** Import every entry module at start, so a broken one fails the start rather than a workflow. Default true. */
  preload?: boolean;
  /**
   * The deployment's clock: the handlers' `now()` and the Scheduler's. Tests pass one and move it
   * (a week of leases in a second); default: one at the real time.
   */
  clock?: LocalClock;
  /** Lease settings (default LEASE_DEFAULTS: 7 days, warned 1 hour ahead). */
  leases?: Partial<Pick<GatewayConfig, 'defaultLeaseSeconds' | 'leaseWarningSeconds'>>;
  /** Tenant quotas (default: DEFAULT_QUOTA for every tenant, as a deployed stack). */
  quotas?: GatewayConfig['quotas'];
}

export interface Embedded {
  /** `http://127.0.0.1:<port>`: the HTTP API. */
  apiUrl: string;
  /** The local API key (`Authorization: Bearer <apiKey>`). */
  apiKey: string;
  /** The deps the handlers run with (SDK clients pointed at the local services). */
  deps: GatewayDeps;
  sim: AwsSimulator;
  /** The Azure simulator, unless started with `azure: false`. */
  azureSim?: AzureSimulator;
  stepFunctions: LocalStepFunctions;
  events: LocalEvents;
  /** EventBridge Scheduler: the gateway's timers fire here. */
  scheduler: LocalScheduler;
  /** The clock every handler and the Scheduler read; move it to make timers come due. */
  clock: LocalClock;
  lambdas: LambdaHost;
  httpApi: LocalHttpApi;
  endpoints: Required<Endpoints>;
  template: LocalTemplate;
  stateDir: string;
  /** Stops every service and releases every handle. Safe to call twice. */
  close(): Promise<void>;
}

export const DEFAULT_WAIT_MS = 100;
export const DEFAULT_RETRY_MS = 100;
/** How long close() waits for function invocations under way before stopping the services below them. */
const DRAIN_MS = 10_000;

type Dynalite = (options: Record<string, unknown>) => http.Server;

const require = createRequire(import.meta.url);

/**
 * The embedded gateway's Azure settings: the simulator's resource group, LROs polled every 10 ms
 * (the SDKs' default is 2 s since ARM sends no Retry-After), 16 MiB upload ranges (the sample VM's
 * 64 MiB disk goes up in five parallel Lambdas, as a large disk would in the cloud).
 */
export const EMBEDDED_AZURE = {
  defaultResourceGroup: 'burstgate',
  lroPollIntervalMs: 10,
  uploadChunkBytes: 16 * 1024 * 1024,
  sasDurationSeconds: 3600,
  maxVmWaitMs: 600_000,
};

/** The role the gateway's timers name; the local Scheduler accepts any ARN-shaped role. */
export const LOCAL_SCHEDULER_ROLE_ARN = `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/burstgate-scheduler`;
export const LOCAL_SCHEDULE_GROUP = 'burstgate';

export function localConfig(
  azure?: GatewayConfig['azure'],
  leases: Partial<Pick<GatewayConfig, 'defaultLeaseSeconds' | 'leaseWarningSeconds'>> = {},
  quotas?: GatewayConfig['quotas'],
): GatewayConfig {
  return {
    jobsTable: LOCAL_TABLE_NAME,
    stagingBucket: LOCAL_BUCKET_NAME,
    offloadStateMachineArn: localStateMachineArn(OFFLOAD_STATE_MACHINE_NAME),
    returnStateMachineArn: localStateMachineArn(RETURN_STATE_MACHINE_NAME),
    webhookStateMachineArn: localStateMachineArn(WEBHOOK_STATE_MACHINE_NAME),
    cancelStateMachineArn: localStateMachineArn(CANCEL_STATE_MACHINE_NAME),
    eventBusName: LOCAL_EVENT_BUS_NAME,
    vmImportRoleName: 'vmimport',
    region: LOCAL_REGION,
    presignExpiresSeconds: 3600,
    maxImportWaitMs: 600_000,
    // 16 MiB of disk per PutBlocks Lambda: the sample VM's 64 MiB disk goes up in four parallel ranges.
    ebsUploadChunkBytes: 16 * 1024 * 1024,
    ...(azure ? { azure } : {}),
    timers: {
      groupName: LOCAL_SCHEDULE_GROUP,
      roleArn: LOCAL_SCHEDULER_ROLE_ARN,
      stateMachineArn: localStateMachineArn(TIMER_STATE_MACHINE_NAME),
    },
    ...LEASE_DEFAULTS,
    ...leases,
    // the embedded deployment's receivers run on this machine: plain HTTP to loopback is allowed
    callbacks: { allowCidrs: ['127.0.0.0/8', '::1/128'], allowHosts: ['localhost'], httpToLoopback: true },
    ...(quotas ? { quotas } : {}),
  };
}

/** The gateway's Azure configuration for a running simulator: its service principal, endpoints and CA. */
export function azureConfigFor(sim: AzureSimulator, settings: Partial<typeof EMBEDDED_AZURE> = {}) {
  return {
    ...EMBEDDED_AZURE,
    ...settings,
    servicePrincipal: {
      tenantId: sim.tenantId,
      clientId: sim.clientId,
      clientSecret: sim.clientSecret,
      subscriptionId: sim.subscriptionId,
    },
    authorityHost: sim.url,
    armEndpoint: sim.url,
    caPem: sim.ca,
    retailPricesEndpoint: sim.url,
  };
}

async function loadTemplate(opts: EmbeddedOptions): Promise<LocalTemplate> {
  if (opts.template) return readTemplate(opts.template);
  // Imported lazily: synthesizing loads aws-cdk-lib, which tests of single services do not need.
  const { synthTemplate } = await import('../synth-template');
  return readTemplate(synthTemplate());
}

async function ensureApiKey(deps: GatewayDeps, stateDir: string): Promise<string> {
  const file = path.join(stateDir, 'api-key');
  let apiKey = existsSync(file) ? (await readFile(file, 'utf8')).trim() : '';
  if (!apiKey) {
    apiKey = newApiKey();
    await writeFile(file, `${apiKey}\n`, { mode: 0o600 });
  }
  await chmod(file, 0o600);
  // Stored the way the authorizer reads it: hashed, in the jobs table. The default tenant's key,
  // with every scope but admin; a key from before tenants gets its id and scopes now.
  const keys = new ApiKeyStore(deps.ddb, LOCAL_TABLE_NAME);
  const found = await keys.find(apiKey);
  if (!found?.keyId || !found.scopes || !found.tenant) {
    await keys.put(apiKey, {
      keyId: newJobId(deps.now(), 'key'),
      tenant: DEFAULT_TENANT,
      scopes: [...LEGACY_SCOPES],
      label: 'local',
      createdAt: found?.createdAt ?? deps.now().toISOString(),
    });
  }
  return apiKey;
}

/** The stack's schedule group (TimerScheduleGroup), made once like the table. */
async function ensureScheduleGroup(deps: GatewayDeps): Promise<void> {
  try {
    await deps.scheduler.send(new CreateScheduleGroupCommand({ Name: deps.config.timers.groupName }));
  } catch (err) {
    if ((err as Error).name !== 'ConflictException') throw err;
  }
}

export async function startEmbedded(opts: EmbeddedOptions): Promise<Embedded> {
  const stateDir = path.resolve(opts.stateDir);
  const ports = opts.ports ?? {};
  const log = opts.quiet
    ? undefined
    : (opts.log ?? ((line: string) => process.stderr.write(`[burstgate] ${line}\n`)));
  // Closers run in reverse order of start; on a failed start, what did start is stopped.
  const closers: Array<() => Promise<unknown>> = [];
  const closeAll = async () => {
    const errors: unknown[] = [];
    while (closers.length) {
      try {
        await closers.pop()!();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length) throw new AggregateError(errors, 'the embedded deployment did not close cleanly');
  };

  try {
    const template = await loadTemplate(opts);
    // The state holds the API key, images and the simulators' credentials: its owner's only.
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    await chmod(stateDir, 0o700);
    await mkdir(path.join(stateDir, 's3'), { recursive: true });
    await mkdir(path.join(stateDir, 'dynamodb'), { recursive: true });
    await mkdir(path.join(stateDir, 'aws-sim'), { recursive: true });

    // S3: s3rver (with the multipart operations it lacks answered in front), files under stateDir/s3.
    const s3 = await startS3({
      directory: path.join(stateDir, 's3'),
      buckets: [LOCAL_BUCKET_NAME],
      ...(ports.s3 !== undefined ? { port: ports.s3 } : {}),
    });
    closers.push(() => s3.close());
    const s3Url = s3.url;

    // DynamoDB: dynalite, LevelDB under stateDir/dynamodb.
    const dynalite = require('dynalite') as Dynalite;
    const dynamoServer = dynalite({
      path: path.join(stateDir, 'dynamodb'),
      createTableMs: 0,
      deleteTableMs: 0,
      updateTableMs: 0,
    });
    const dynamoPort = await listen(dynamoServer, ports.dynamodb ?? 0);
    closers.push(() => closeServer(dynamoServer));
    const dynamoUrl = `http://127.0.0.1:${dynamoPort}`;

    // EC2 & VM Import: the simulator reads and writes through its own S3 client.
    const simS3 = new S3Client({
      region: LOCAL_REGION,
      endpoint: s3Url,
      forcePathStyle: true,
      credentials: LOCAL_CREDENTIALS,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    closers.push(async () => simS3.destroy());
    const sim = await startAwsSimulator({
      s3: simS3,
      stateDir: path.join(stateDir, 'aws-sim'),
      ...(ports.ec2 !== undefined ? { port: ports.ec2 } : {}),
      ...(opts.simTiming ? { timing: opts.simTiming } : {}),
      ...(opts.simFaults ? { faults: opts.simFaults } : {}),
    });
    closers.push(() => sim.close());

    // Azure: ARM, Entra ID and the disks' blob endpoint over HTTPS (self-signed CA), Azurite beneath.
    let azureSim: AzureSimulator | undefined;
    if (opts.azure !== false) {
      await mkdir(path.join(stateDir, 'azure-sim'), { recursive: true });
      azureSim = await startAzureSimulator({
        stateDir: path.join(stateDir, 'azure-sim'),
        ...(opts.azure?.timing ? { timing: opts.azure.timing } : {}),
        ...(opts.azure?.faults ? { faults: opts.azure.faults } : {}),
      });
      const started = azureSim;
      closers.push(() => started.close());
    }

    const events = await startEvents({
      stateDir,
      ...(ports.events !== undefined ? { port: ports.events } : {}),
    });
    closers.push(() => events.close());

    // Step Functions invokes the functions of the host created below.
    const hostRef: { current?: LambdaHost } = {};
    const stepFunctions = await startStepFunctions({
      stateMachines: [
        template.stateMachines.offload,
        template.stateMachines.return,
        template.stateMachines.timer,
        template.stateMachines.webhook,
        template.stateMachines.cancel,
      ],
      invokeFunction: (ref, payload) => {
        if (!hostRef.current) return Promise.reject(new Error('the Lambda host is not ready'));
        return hostRef.current.invoke(ref, payload);
      },
      waitTimeOverrides: opts.waitTimeOverrides ?? DEFAULT_WAIT_MS,
      defaultWaitMs: DEFAULT_WAIT_MS,
      retryIntervalOverrides: opts.retryIntervalOverrides ?? DEFAULT_RETRY_MS,
      defaultRetryMs: DEFAULT_RETRY_MS,
      stateFile: path.join(stateDir, 'step-functions', 'executions.json'),
      ...(ports.sfn !== undefined ? { port: ports.sfn } : {}),
      ...(log ? { log } : {}),
    });
    closers.push(() => stepFunctions.close());

    // EventBridge Scheduler: starts its targets through the Step Functions API, as the service does.
    const clock = opts.clock ?? new LocalClock();
    const schedulerSfn = new SFNClient({
      region: LOCAL_REGION,
      endpoint: stepFunctions.url,
      credentials: LOCAL_CREDENTIALS,
    });
    closers.push(async () => schedulerSfn.destroy());
    const scheduler = await startScheduler({
      stateDir,
      clock,
      // The timer workflow's functions are hosted below: fire (and catch up) once they are.
      deferFiring: true,
      startExecution: async (stateMachineArn, name, input) => {
        const out = await schedulerSfn.send(new StartExecutionCommand({ stateMachineArn, name, input }));
        return { executionArn: out.executionArn ?? '' };
      },
      ...(ports.scheduler !== undefined ? { port: ports.scheduler } : {}),
      ...(log ? { log: (line: string) => log(`scheduler: ${line}`) } : {}),
    });
    closers.push(() => scheduler.close());

    const endpoints: Required<Endpoints> = {
      s3: s3Url,
      dynamodb: dynamoUrl,
      ec2: sim.url,
      ebs: sim.url,
      sfn: stepFunctions.url,
      events: events.url,
      scheduler: scheduler.url,
      pricing: sim.url,
    };
    const deps = createDeps({
      now: () => clock.now(),
      config: localConfig(
        azureSim ? azureConfigFor(azureSim, opts.azureSettings) : undefined,
        opts.leases,
        opts.quotas,
      ),
      endpoints,
      credentials: { ...LOCAL_CREDENTIALS },
      logger: new Logger({
        serviceName: 'burstgate',
        ...(opts.quiet
          ? { logLevel: 'SILENT' }
          : opts.handlerLogLevel
            ? { logLevel: opts.handlerLogLevel }
            : {}),
      }),
    });
    const ec2Clients = new Set<EC2Client>();
    const ec2For = deps.ec2For;
    deps.ec2For = (region: string) => {
      const client = ec2For(region);
      ec2Clients.add(client);
      return client;
    };
    const ebsClients = new Set<EBSClient>();
    const ebsFor = deps.ebsFor;
    deps.ebsFor = (region: string) => {
      const client = ebsFor(region);
      ebsClients.add(client);
      return client;
    };
    closers.push(async () => {
      deps.s3.destroy();
      // DynamoDBDocumentClient.destroy() leaves the wrapped client alone; its handler is shared.
      (deps.ddb.config.requestHandler as { destroy?: () => void }).destroy?.();
      deps.sfn.destroy();
      deps.events.destroy();
      deps.scheduler.destroy();
      for (const client of ec2Clients) client.destroy();
      for (const client of ebsClients) client.destroy();
    });

    const tableClient = new DynamoDBClient({
      region: LOCAL_REGION,
      endpoint: dynamoUrl,
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      await ensureJobsTable(tableClient, template.table, LOCAL_TABLE_NAME);
    } finally {
      tableClient.destroy();
    }
    const apiKey = await ensureApiKey(deps, stateDir);
    await ensureScheduleGroup(deps);

    const host = new LambdaHost({
      deps,
      functions: [...template.functions.values()].map((f) => ({
        name: f.name,
        entry: f.entry,
        timeoutSeconds: f.timeoutSeconds,
        memoryMiB: f.memoryMiB,
      })),
    });
    hostRef.current = host;
    if (opts.preload ?? true) await host.preload();
    scheduler.startFiring();

    // Stop order on close: the API, then executions, then wait for invocations under way (they still
    // need the services below), then the services.
    closers.push(async () => {
      await Promise.race([host.drain(), new Promise((r) => setTimeout(r, DRAIN_MS).unref())]);
    });
    closers.push(() => stepFunctions.close());
    // ...and before those, no timer may start new executions.
    closers.push(() => scheduler.close());

    const httpApi = await startHttpApi({
      routes: template.routes,
      invoke: (fn, event) => host.invoke(fn, event),
      ...(ports.api !== undefined ? { port: ports.api } : {}),
      ...(log ? { log } : {}),
      ...(opts.observeApi ? { observe: opts.observeApi } : {}),
    });
    closers.push(() => httpApi.close());

    // Step Functions keeps executions across restarts; this stand-in does not, so jobs whose
    // workflow was cut off by the last shutdown are picked up again (every step is idempotent).
    const resumed = await resumeInterruptedJobs(deps);
    for (const r of resumed)
      log?.(`resumed ${r.jobId} (${r.state}) as ${r.executionArn ?? 'a finished cancel'}`);

    let closing: Promise<void> | undefined;
    return {
      apiUrl: httpApi.url,
      apiKey,
      deps,
      sim,
      ...(azureSim ? { azureSim } : {}),
      stepFunctions,
      events,
      scheduler,
      clock,
      lambdas: host,
      httpApi,
      endpoints,
      template,
      stateDir,
      close: () => (closing ??= closeAll()),
    };
  } catch (err) {
    await closeAll().catch(() => undefined);
    throw err;
  }
}
