/**
 * What every handler needs, created once per module and injected. The cloud deployment builds it
 * from the Lambda environment (`depsFromEnv`); the embedded deployment and tests build it with
 * `createDeps` pointing the same SDK clients at local endpoints.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EBSClient } from '@aws-sdk/client-ebs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SFNClient } from '@aws-sdk/client-sfn';
import { PricingClient } from '@aws-sdk/client-pricing';
import {
  createAzureClients,
  parseServicePrincipal,
  type AzureClients,
  type AzureEndpoints,
  type AzureServicePrincipal,
} from '../clouds/azure/clients';
import { AZURE_RETAIL_PRICES_ENDPOINT } from '../clouds/azure/retail-prices';
import { EBS_BLOCK_BYTES, EBS_DEFAULT_CHUNK_BYTES } from '../clouds/aws/ebs-blocks';
import { ENV } from './env-names';
import { assertCidrs, type EgressPolicy, type Resolver } from '../domain/egress';
import { DEFAULT_TARGET_LIMITS, likePattern, type TargetLimits } from '../domain/target-limits';
import { DEFAULT_QUOTA, TenantQuotas, type QuotaConfig } from '../domain/quota-config';
import { isIP } from 'node:net';

const MiB = 1024 * 1024;

/** The Azure side of the gateway (absent: the gateway offloads to AWS only). */
export interface AzureConfig extends AzureEndpoints {
  /** The service principal itself (embedded deployment, from configuration)... */
  servicePrincipal?: AzureServicePrincipal;
  /**
   * ...or the ARN of the Secrets Manager secret holding it as JSON (deployed stack). Only the
   * functions that call Azure get this ARN and the permission to read it.
   */
  credentialsSecretArn?: string;
  /** Resource group of a job whose target names none. */
  defaultResourceGroup: string;
  /** Subnet (ARM id) for the VMs' NICs; default: a per-location virtual network the gateway creates. */
  subnetId?: string;
  /** Pause between polls of Azure long-running operations (ARM sends no Retry-After). */
  lroPollIntervalMs: number;
  /** Bytes of the fixed VHD one upload Lambda writes (a multiple of 4 MiB). */
  uploadChunkBytes: number;
  /** Lifetime of the SAS URLs the steps ask for. */
  sasDurationSeconds: number;
  /** Give up waiting for a VM to start or deallocate after this long. */
  maxVmWaitMs: number;
  /**
   * The Retail Prices API: https://prices.azure.com for a deployed gateway (configFromEnv), the
   * simulator's URL for the embedded one; absent: Azure quotes and estimates have no prices.
   */
  retailPricesEndpoint?: string;
}

export const AZURE_DEFAULTS = {
  lroPollIntervalMs: 2000,
  uploadChunkBytes: 1024 * MiB,
  sasDurationSeconds: 3600,
  maxVmWaitMs: 30 * 60 * 1000,
} as const;

export interface GatewayConfig {
  /** DynamoDB table holding jobs, idempotency records and hashed API keys. */
  jobsTable: string;
  /** S3 bucket for uploaded images and returned images. */
  stagingBucket: string;
  offloadStateMachineArn: string;
  returnStateMachineArn: string;
  /** The webhook delivery workflow (webhooks/outbox.ts). */
  webhookStateMachineArn: string;
  /** The cancel workflow (cancel.ts starts it; workflow/cancel.ts is its step). */
  cancelStateMachineArn: string;
  eventBusName: string;
  /** The VM Import service role (`vmimport`). */
  vmImportRoleName: string;
  /** Region the gateway runs in (and the default target region). */
  region: string;
  /** Lifetime of presigned upload/download URLs. */
  presignExpiresSeconds: number;
  /** Give up polling an import/export after this long. */
  maxImportWaitMs: number;
  /**
   * AWS direct: bytes of disk one PutBlocks Lambda (Map item) writes, a multiple of 512 KiB
   * (default EBS_DEFAULT_CHUNK_BYTES; larger when a disk would need too many ranges).
   */
  ebsUploadChunkBytes?: number;
  azure?: AzureConfig;
  /** The gateway's timers (leases, launch times): EventBridge Scheduler schedules that start the timer workflow. */
  timers: TimersConfig;
  /** Lease of a job whose request sets none, in seconds from its planned launch (default 7 days). */
  defaultLeaseSeconds: number;
  /** How long before a lease ends the `lease-expiring` event goes out (default 1 hour). */
  leaseWarningSeconds: number;
  /**
   * Where callbacks may go besides public HTTPS addresses (shared/domain/egress.ts); absent: nowhere
   * else. From BURSTGATE_CALLBACK_ALLOW: CIDRs and host names, comma-separated.
   */
  callbacks?: EgressPolicy;
  /** Regions, instance types, locations and VM sizes callers may use; absent: DEFAULT_TARGET_LIMITS. */
  targetLimits?: TargetLimits;
  /** What each tenant may have at once (shared/domain/quotas.ts); absent: DEFAULT_QUOTA for all. */
  quotas?: QuotaConfig;
  /** Where quotes read prices: `live` (the default: Price List and Retail Prices) or the shipped `snapshot`. */
  priceSource?: 'live' | 'snapshot';
}

export interface TimersConfig {
  /** The EventBridge Scheduler schedule group the stack creates. */
  groupName: string;
  /** The role Scheduler assumes to start the timer workflow. */
  roleArn: string;
  /** The timer state machine (one Lambda: shared/domain/timers.ts). */
  stateMachineArn: string;
}

export const LEASE_DEFAULTS = {
  defaultLeaseSeconds: 7 * 24 * 3600,
  leaseWarningSeconds: 3600,
} as const;

export interface Endpoints {
  s3?: string;
  dynamodb?: string;
  ec2?: string;
  /** The EBS direct APIs (AWS serves them from `ebs.<region>.amazonaws.com`; the simulator from its one URL). */
  ebs?: string;
  sfn?: string;
  events?: string;
  scheduler?: string;
  /** The AWS Price List Query API (AWS serves it from us-east-1, eu-central-1 and ap-south-1). */
  pricing?: string;
}

export interface GatewayDeps {
  config: GatewayConfig;
  s3: S3Client;
  ddb: DynamoDBDocumentClient;
  /** EC2 client per region (targets may name any region). */
  ec2For(region: string): EC2Client;
  /** EBS direct API client per region (snapshot blocks: the AWS fast path). */
  ebsFor(region: string): EBSClient;
  sfn: SFNClient;
  events: EventBridgeClient;
  scheduler: SchedulerClient;
  /**
   * The Price List client; absent when the deployment was given local endpoints but none for it
   * (a test or the embedded deployment must not reach the real one).
   */
  pricing?: PricingClient;
  /** The Azure SDK clients, created on first use (the service principal may have to be fetched). */
  azureClients?: () => Promise<AzureClients>;
  logger: Logger;
  now(): Date;
  /** Resolves callback hosts (default: the system's resolver); tests inject one, so no lookup leaves. */
  resolve?: Resolver;
}

export interface CreateDepsOptions {
  config: GatewayConfig;
  endpoints?: Endpoints;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  logger?: Logger;
  now?: () => Date;
  /** SDK retry attempts; Step Functions owns retries of throttled cloud calls, so keep this small. */
  maxAttempts?: number;
  /** A Price List client for AWS's public endpoint (a deployed gateway; otherwise `endpoints.pricing` or none). */
  publicPriceList?: boolean;
}

export function createDeps(opts: CreateDepsOptions): GatewayDeps {
  const { config, endpoints = {}, credentials } = opts;
  const common = {
    region: config.region,
    ...(credentials ? { credentials } : {}),
    ...(opts.maxAttempts !== undefined ? { maxAttempts: opts.maxAttempts } : {}),
  };
  const s3 = new S3Client({
    ...common,
    ...(endpoints.s3 ? { endpoint: endpoints.s3, forcePathStyle: true } : {}),
    // Without these, streamed PutObject bodies get aws-chunked framing that S3 emulators store verbatim.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const ddb = DynamoDBDocumentClient.from(
    new DynamoDBClient({ ...common, ...(endpoints.dynamodb ? { endpoint: endpoints.dynamodb } : {}) }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  const ec2Clients = new Map<string, EC2Client>();
  const ec2For = (region: string): EC2Client => {
    let client = ec2Clients.get(region);
    if (!client) {
      client = new EC2Client({ ...common, region, ...(endpoints.ec2 ? { endpoint: endpoints.ec2 } : {}) });
      ec2Clients.set(region, client);
    }
    return client;
  };
  const ebsClients = new Map<string, EBSClient>();
  const ebsFor = (region: string): EBSClient => {
    let client = ebsClients.get(region);
    if (!client) {
      client = new EBSClient({ ...common, region, ...(endpoints.ebs ? { endpoint: endpoints.ebs } : {}) });
      ebsClients.set(region, client);
    }
    return client;
  };
  const sfn = new SFNClient({ ...common, ...(endpoints.sfn ? { endpoint: endpoints.sfn } : {}) });
  const events = new EventBridgeClient({
    ...common,
    ...(endpoints.events ? { endpoint: endpoints.events } : {}),
  });
  const scheduler = new SchedulerClient({
    ...common,
    ...(endpoints.scheduler ? { endpoint: endpoints.scheduler } : {}),
  });
  // The Price List client only where asked for: the local endpoint, or AWS's own for a deployed
  // gateway (depsFromEnv). Tests and the embedded deployment must never reach the real one.
  const pricing = endpoints.pricing
    ? new PricingClient({ ...common, endpoint: endpoints.pricing })
    : opts.publicPriceList
      ? new PricingClient({ ...common, region: priceListRegion(config.region) })
      : undefined;
  const logger = opts.logger ?? new Logger({ serviceName: 'burstgate' });
  const azure = config.azure;
  let azureClients: Promise<AzureClients> | undefined;
  return {
    config,
    s3,
    ddb,
    ec2For,
    ebsFor,
    sfn,
    events,
    scheduler,
    ...(pricing ? { pricing } : {}),
    ...(azure
      ? {
          azureClients: () => {
            azureClients ??= azureClientsFor(azure, common).catch((err: unknown) => {
              azureClients = undefined; // a failed fetch is retried by the next call
              throw err;
            });
            return azureClients;
          },
        }
      : {}),
    logger,
    now: opts.now ?? (() => new Date()),
  };
}

/** The Price List Query API's nearest region (it answers for every region from these three). */
function priceListRegion(region: string): string {
  if (
    region.startsWith('eu-') ||
    region.startsWith('me-') ||
    region.startsWith('af-') ||
    region.startsWith('il-')
  ) {
    return 'eu-central-1';
  }
  return region.startsWith('ap-') ? 'ap-south-1' : 'us-east-1';
}

async function azureClientsFor(
  azure: AzureConfig,
  aws: { region: string; credentials?: { accessKeyId: string; secretAccessKey: string } },
): Promise<AzureClients> {
  if (azure.servicePrincipal) return createAzureClients(azure.servicePrincipal, azure);
  const arn = azure.credentialsSecretArn;
  if (!arn) {
    throw new Error(
      'burstgate: this function has no Azure credentials (no service principal, no AZURE_CREDENTIALS_SECRET_ARN); only the Azure steps may call Azure',
    );
  }
  // Loaded only where Azure is used: the other functions never read the secret.
  const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
  const client = new SecretsManagerClient({
    region: aws.region,
    ...(aws.credentials ? { credentials: aws.credentials } : {}),
  });
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    let parsed: unknown;
    try {
      parsed = JSON.parse(out.SecretString ?? '');
    } catch {
      throw new Error(
        `burstgate: the secret ${arn} is not JSON; store {"tenantId","clientId","clientSecret","subscriptionId"}`,
      );
    }
    return createAzureClients(parseServicePrincipal(parsed, `secret ${arn}`), azure);
  } finally {
    client.destroy();
  }
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value)
    throw new Error(
      `burstgate: environment variable ${name} is not set; the stack sets it on every function`,
    );
  return value;
}

export { ENV } from './env-names';

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return {
    jobsTable: required(env, ENV.jobsTable),
    stagingBucket: required(env, ENV.stagingBucket),
    offloadStateMachineArn: required(env, ENV.offloadStateMachineArn),
    returnStateMachineArn: required(env, ENV.returnStateMachineArn),
    webhookStateMachineArn: required(env, ENV.webhookStateMachineArn),
    cancelStateMachineArn: required(env, ENV.cancelStateMachineArn),
    eventBusName: required(env, ENV.eventBusName),
    vmImportRoleName: env[ENV.vmImportRoleName] ?? 'vmimport',
    region: env.AWS_REGION ?? 'us-east-1',
    presignExpiresSeconds: Number(env.BURSTGATE_PRESIGN_EXPIRES_SECONDS ?? 3600),
    maxImportWaitMs: Number(env.BURSTGATE_MAX_IMPORT_WAIT_MS ?? 6 * 3600 * 1000),
    ebsUploadChunkBytes: ebsChunkFromEnv(env),
    timers: {
      groupName: required(env, ENV.scheduleGroupName),
      roleArn: required(env, ENV.schedulerRoleArn),
      stateMachineArn: required(env, ENV.timerStateMachineArn),
    },
    defaultLeaseSeconds: positive(env, ENV.defaultLeaseSeconds, LEASE_DEFAULTS.defaultLeaseSeconds),
    leaseWarningSeconds: positive(env, ENV.leaseWarningSeconds, LEASE_DEFAULTS.leaseWarningSeconds),
    ...(env[ENV.azureResourceGroup] ? { azure: azureConfigFromEnv(env) } : {}),
    ...(env[ENV.callbackAllow] ? { callbacks: callbackPolicyFromEnv(env[ENV.callbackAllow] ?? '') } : {}),
    ...priceSourceFromEnv(env),
    targetLimits: targetLimitsFromEnv(env),
    quotas: quotasFromEnv(env),
  };
}

/** The quota defaults with what the environment sets, and the per-tenant JSON, checked. */
function quotasFromEnv(env: NodeJS.ProcessEnv): QuotaConfig {
  const defaults = {
    concurrentJobs: positive(env, ENV.quotaConcurrentJobs, DEFAULT_QUOTA.concurrentJobs),
    declaredBytes: positive(env, ENV.quotaDeclaredGib, DEFAULT_QUOTA.declaredBytes / 1024 ** 3) * 1024 ** 3,
    launchesPerHour: positive(env, ENV.quotaLaunchesPerHour, DEFAULT_QUOTA.launchesPerHour),
  };
  const raw = env[ENV.tenantQuotas];
  if (!raw) return { defaults };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`burstgate: environment variable ${ENV.tenantQuotas} is not JSON`);
  }
  const tenants = TenantQuotas.safeParse(parsed);
  if (!tenants.success) {
    throw new Error(
      `burstgate: environment variable ${ENV.tenantQuotas} must map tenant names to {concurrentJobs?, declaredBytes?, launchesPerHour?} (positive integers): ${tenants.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return { defaults, tenants: tenants.data };
}

/**
 * The default limits with each list the environment sets replaced. The AWS lists may only narrow
 * what the stack's IAM conditions on RunInstances hold (the defaults, or the CDK context's lists the
 * stack passes as BURSTGATE_STACK_*): a wider list would pass the request and fail at launch, after
 * the upload.
 */
function targetLimitsFromEnv(env: NodeJS.ProcessEnv): TargetLimits {
  const list = (name: string, fallback: readonly string[]): readonly string[] => {
    const items = (env[name] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    return items.length ? items : fallback;
  };
  const d = DEFAULT_TARGET_LIMITS;
  const stack = {
    awsRegions: list(ENV.stackAwsRegions, d.awsRegions),
    instanceTypes: list(ENV.stackInstanceTypes, d.instanceTypes),
  };
  const narrowing = (name: string, items: readonly string[], within: readonly string[]) => {
    const wider = items.filter((i) => !within.some((p) => likePattern(p, i)));
    if (wider.length) {
      throw new Error(
        `burstgate: environment variable ${name} may only narrow the stack's allow-list (${within.join(', ')}); not in it: ${wider.join(', ')}`,
      );
    }
    return items;
  };
  return {
    awsRegions: narrowing(ENV.awsRegions, list(ENV.awsRegions, stack.awsRegions), stack.awsRegions),
    instanceTypes: narrowing(
      ENV.instanceTypes,
      list(ENV.instanceTypes, stack.instanceTypes),
      stack.instanceTypes,
    ),
    azureLocations: list(ENV.azureLocations, d.azureLocations),
    azureVmSizes: list(ENV.azureVmSizes, d.azureVmSizes),
  };
}

/** `198.51.100.0/24,hooks.corp.example`: CIDRs (checked here) and host names callbacks may reach. */
function callbackPolicyFromEnv(raw: string): EgressPolicy {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const cidrs = items.filter((s) => s.includes('/') || isIP(s) !== 0);
  assertCidrs(cidrs, ENV.callbackAllow);
  return { allowCidrs: cidrs, allowHosts: items.filter((s) => !cidrs.includes(s)), httpToLoopback: false };
}

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new Error(`burstgate: environment variable ${name} must be a positive integer, got "${raw}"`);
  }
  return value;
}

function ebsChunkFromEnv(env: NodeJS.ProcessEnv): number {
  const value = positive(env, ENV.ebsUploadChunkBytes, EBS_DEFAULT_CHUNK_BYTES);
  if (value % EBS_BLOCK_BYTES !== 0) {
    throw new Error(
      `burstgate: environment variable ${ENV.ebsUploadChunkBytes} must be a multiple of ${EBS_BLOCK_BYTES} (the EBS block), got ${value}`,
    );
  }
  return value;
}

function azureConfigFromEnv(env: NodeJS.ProcessEnv): AzureConfig {
  return {
    defaultResourceGroup: required(env, ENV.azureResourceGroup),
    ...(env[ENV.azureCredentialsSecretArn]
      ? { credentialsSecretArn: env[ENV.azureCredentialsSecretArn] }
      : {}),
    ...(env[ENV.azureSubnetId] ? { subnetId: env[ENV.azureSubnetId] } : {}),
    lroPollIntervalMs: positive(env, ENV.azureLroPollMs, AZURE_DEFAULTS.lroPollIntervalMs),
    uploadChunkBytes: positive(env, ENV.azureUploadChunkBytes, AZURE_DEFAULTS.uploadChunkBytes),
    sasDurationSeconds: AZURE_DEFAULTS.sasDurationSeconds,
    maxVmWaitMs: AZURE_DEFAULTS.maxVmWaitMs,
    // a deployed gateway reads Azure's public retail prices (no credentials needed)
    retailPricesEndpoint: AZURE_RETAIL_PRICES_ENDPOINT,
  };
}

function priceSourceFromEnv(env: NodeJS.ProcessEnv): Pick<GatewayConfig, 'priceSource'> {
  const v = env[ENV.priceSource];
  if (v === undefined || v === '') return {};
  if (v !== 'live' && v !== 'snapshot') {
    throw new Error(`burstgate: environment variable ${ENV.priceSource} must be live or snapshot, got ${v}`);
  }
  return { priceSource: v };
}

let envDeps: GatewayDeps | undefined;
/** Deps for a deployed Lambda: built on first use, then reused across invocations. */
export function depsFromEnv(): GatewayDeps {
  envDeps ??= createDeps({ config: configFromEnv(), publicPriceList: true });
  return envDeps;
}

/**
 * Every Lambda entry module exports `createHandler(deps)` (used by the embedded deployment and tests)
 * and `handler` (used by AWS Lambda), built lazily so importing the module reads no environment.
 */
export function lazyHandler<E, R>(create: (deps: GatewayDeps) => (event: E, context: unknown) => Promise<R>) {
  let built: ((event: E, context: unknown) => Promise<R>) | undefined;
  return (event: E, context: unknown): Promise<R> => {
    built ??= create(depsFromEnv());
    return built(event, context);
  };
}
