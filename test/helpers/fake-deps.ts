/**
 * GatewayDeps made of small in-memory fakes, for unit tests of the workflow steps through the real
 * `createGateway` (so the real JobStore, StagingBucket, ImageCache and cloud adapters run):
 *
 * - DynamoDB: one table (get, put, delete, query, scan) with the few condition expressions the
 *   stores write (`attribute_not_exists(x)`, `attribute_exists(x)`, `x = :v`, joined by AND);
 * - S3: one bucket of real bytes (objects, ranged GETs, multipart uploads);
 * - Step Functions and EventBridge: every call recorded, answered as AWS would;
 * - EC2, EBS and the Azure SDK clients (fake-azure.ts): scripted. A test says what each command it expects answers; a command nobody
 *   scripted throws and is remembered, and `assertNoUnscriptedCalls` fails the test, so a test
 *   can never pass because a step failed on a call the test did not foresee.
 *
 * These are not simulators: anything beyond the few rules above (the wire protocol, EC2's state
 * machines, S3's checksums) is the simulators' business (test/helpers/aws-sim.ts, infra/local).
 */
import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Logger } from '@aws-lambda-powertools/logger';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { EBSClient } from '@aws-sdk/client-ebs';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  CreateScheduleCommand,
  DeleteScheduleCommand,
  UpdateScheduleCommand,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  StartExecutionCommand,
  StopExecutionCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { AzureConfig, GatewayConfig, GatewayDeps } from '../../shared/runtime/deps';
import { FakeAzure } from './fake-azure';

// ---------------------------------------------------------------- commands and scripted answers

/** An SDK command class: its instances carry `input` and resolve to a handler of the output. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type CommandClass = abstract new (...args: any[]) => {
  readonly input: object;
  resolveMiddleware(...args: never[]): unknown;
};
export type InputOf<C extends CommandClass> = InstanceType<C>['input'];
export type OutputOf<C extends CommandClass> =
  ReturnType<InstanceType<C>['resolveMiddleware']> extends (...args: never[]) => Promise<{ output: infer O }>
    ? O
    : never;
/** What a scripted command answers (the fake adds `$metadata`), or throws (see `awsError`). */
export type Answer<C extends CommandClass> = (
  input: InputOf<C>,
  call: { region: string },
) => Omit<OutputOf<C>, '$metadata'> | Promise<Omit<OutputOf<C>, '$metadata'>>;

interface SentCommand {
  constructor: { name: string };
  input: Record<string, unknown>;
}

export interface RecordedCall {
  /** The command class's name, e.g. `DescribeInstancesCommand`. */
  command: string;
  input: Record<string, unknown>;
  region: string;
}

const ok = { httpStatusCode: 200, requestId: 'fake' };

/** An error as the SDK throws it for an AWS error answer: `name` is the AWS error code. */
export function awsError(name: string, message = name, httpStatusCode = 400): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
  });
}

/**
 * A cloud service whose every answer a test scripts (`on`). An unscripted command throws
 * `UnscriptedFakeCall` and is listed in `unscripted`.
 */
export class ScriptedService {
  readonly calls: RecordedCall[] = [];
  readonly unscripted: string[] = [];
  private readonly answers = new Map<CommandClass, Answer<CommandClass>>();

  constructor(readonly service: string) {}

  /** Sets (or replaces) what `command` answers from now on. */
  on<C extends CommandClass>(command: C, answer: Answer<C>): this {
    this.answers.set(command, answer as unknown as Answer<CommandClass>);
    return this;
  }

  /** The inputs of every call of `command` so far. */
  inputsOf<C extends CommandClass>(command: C): Array<InputOf<C>> {
    return this.calls.filter((c) => c.command === command.name).map((c) => c.input as InputOf<C>);
  }

  /** The names of the commands sent so far, in order. */
  commandNames(): string[] {
    return this.calls.map((c) => c.command);
  }

  async send(command: SentCommand, region: string): Promise<unknown> {
    const name = command.constructor.name;
    this.calls.push({ command: name, input: command.input, region });
    const answer = this.answers.get(command.constructor as unknown as CommandClass);
    if (!answer) {
      const what = `${name} in ${region} with ${JSON.stringify(command.input)}`;
      this.unscripted.push(what);
      throw Object.assign(
        new Error(`fake ${this.service}: the test scripted no answer to ${what}; script it with .on()`),
        { name: 'UnscriptedFakeCall' },
      );
    }
    return { ...(await answer(command.input as never, { region })), $metadata: ok };
  }
}

// ---------------------------------------------------------------- DynamoDB

type Item = Record<string, unknown>;

/** A copy of a value as DynamoDB would store it (undefined removed, as createDeps marshals). */
function stored(value: unknown, path: string): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new Error(`fake DynamoDB: ${path} is ${value}, which DynamoDB cannot store`);
    return value;
  }
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (Array.isArray(value))
    return value.filter((v) => v !== undefined).map((v, i) => stored(v, `${path}[${i}]`));
  if (typeof value === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(value))) {
    const out: Item = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = stored(v, `${path}.${k}`);
    return out;
  }
  throw new Error(
    `fake DynamoDB: ${path} is a ${typeof value} (${String(value)}), which the marshaller refuses`,
  );
}

/** Evaluates the condition and filter expressions the stores use; anything else is refused. */
function matches(item: Item | undefined, expression: string, values: Item = {}): boolean {
  return expression.split(/\s+AND\s+/i).every((clause) => {
    const c = clause.trim();
    let m = /^attribute_not_exists\((\w+)\)$/.exec(c);
    if (m) return item?.[m[1]!] === undefined;
    m = /^attribute_exists\((\w+)\)$/.exec(c);
    if (m) return item?.[m[1]!] !== undefined;
    m = /^(\w+)\s*=\s*(:\w+)$/.exec(c);
    if (m) {
      if (!(m[2]! in values))
        throw awsError('ValidationException', `${m[2]} has no ExpressionAttributeValues entry`);
      return item !== undefined && JSON.stringify(item[m[1]!]) === JSON.stringify(values[m[2]!]);
    }
    throw new Error(
      `fake DynamoDB: the expression "${c}" is not one the fake understands; extend it honestly`,
    );
  });
}

/** One DynamoDB table keyed by `pk`/`sk`, with the jobs table's `byState` index (`gsi1pk`/`gsi1sk`). */
export class FakeTable {
  private readonly items = new Map<string, Item>();
  readonly commands: string[] = [];

  constructor(readonly name: string) {}

  private static id(key: Item): string {
    if (typeof key.pk !== 'string' || typeof key.sk !== 'string')
      throw awsError('ValidationException', 'The provided key element does not match the schema');
    return JSON.stringify([key.pk, key.sk]);
  }

  /** Every item, as stored. */
  all(): Item[] {
    return [...this.items.values()].map((i) => structuredClone(i));
  }

  async send(command: SentCommand): Promise<unknown> {
    const input = command.input as Item & { TableName?: string };
    this.commands.push(command.constructor.name);
    if (input.TableName !== this.name)
      throw awsError('ResourceNotFoundException', `no table ${input.TableName}`);
    const values = input.ExpressionAttributeValues as Item | undefined;
    if (command instanceof GetCommand) {
      const item = this.items.get(FakeTable.id(input.Key as Item));
      return { ...(item ? { Item: structuredClone(item) } : {}), $metadata: ok };
    }
    if (command instanceof PutCommand || command instanceof DeleteCommand) {
      const isPut = command instanceof PutCommand;
      const id = FakeTable.id((isPut ? input.Item : input.Key) as Item);
      const condition = input.ConditionExpression as string | undefined;
      if (condition && !matches(this.items.get(id), condition, values)) {
        throw new ConditionalCheckFailedException({
          message: 'The conditional request failed',
          $metadata: {},
        });
      }
      if (isPut) this.items.set(id, stored(input.Item, 'Item') as Item);
      else this.items.delete(id);
      return { $metadata: ok };
    }
    if (command instanceof QueryCommand) {
      const [hash, range] = input.IndexName === undefined ? ['pk', 'sk'] : ['gsi1pk', 'gsi1sk'];
      if (input.IndexName !== undefined && input.IndexName !== 'byState')
        throw awsError('ValidationException', `the table has no index ${String(input.IndexName)}`);
      const key = /^(\w+)\s*=\s*(:\w+)$/.exec(String(input.KeyConditionExpression ?? ''));
      if (!key || key[1] !== hash)
        throw new Error(
          `fake DynamoDB: key condition "${input.KeyConditionExpression}" is not "${hash} = :v"`,
        );
      const found = [...this.items.values()]
        .filter((i) => i[range!] !== undefined && matches(i, input.KeyConditionExpression as string, values))
        .sort((a, b) => String(a[range!]).localeCompare(String(b[range!])));
      if (input.ScanIndexForward === false) found.reverse();
      const page = found.slice(0, (input.Limit as number | undefined) ?? found.length);
      return { Items: page.map((i) => structuredClone(i)), Count: page.length, $metadata: ok };
    }
    if (command instanceof ScanCommand) {
      // One page holds the whole table: the fake never answers with LastEvaluatedKey.
      if (input.Limit !== undefined) throw new Error('fake DynamoDB: Scan with Limit is not implemented');
      const filter = input.FilterExpression as string | undefined;
      const found = [...this.items.values()].filter((i) => !filter || matches(i, filter, values));
      return { Items: found.map((i) => structuredClone(i)), Count: found.length, $metadata: ok };
    }
    throw new Error(`fake DynamoDB: ${command.constructor.name} is not implemented`);
  }
}

// ---------------------------------------------------------------- S3

async function bytesOf(body: unknown): Promise<Buffer> {
  if (body === undefined) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body);
  if (typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    const parts: Buffer[] = [];
    for await (const c of body as AsyncIterable<Uint8Array | string>) parts.push(Buffer.from(c));
    return Buffer.concat(parts);
  }
  throw new Error(`fake S3: a Body of type ${typeof body} is not supported`);
}

/**
 * A streamed body as the SDK hands it out in Node (GetObject's Body, GetSnapshotBlock's BlockData):
 * a Node stream with the SDK's `transformToByteArray` mixin.
 */
export function responseBody(bytes: Buffer): Readable & {
  transformToByteArray(): Promise<Uint8Array>;
  transformToString(encoding?: BufferEncoding): Promise<string>;
} {
  const pieces: Buffer[] = [];
  for (let off = 0; off < bytes.length; off += 64 * 1024) pieces.push(bytes.subarray(off, off + 64 * 1024));
  const stream = Readable.from(pieces, { objectMode: false });
  return Object.assign(stream, {
    transformToByteArray: async () => new Uint8Array(await bytesOf(stream)),
    transformToString: async (encoding: BufferEncoding = 'utf8') =>
      (await bytesOf(stream)).toString(encoding),
  });
}

const etagOf = (bytes: Buffer) => `"${createHash('md5').update(bytes).digest('hex')}"`;
const MIN_PART_BYTES = 5 * 1024 * 1024;

/** One S3 bucket of real bytes. */
export class FakeBucket {
  private readonly objects = new Map<string, Buffer>();
  private readonly uploads = new Map<string, { key: string; parts: Map<number, Buffer> }>();
  readonly commands: string[] = [];

  constructor(readonly name: string) {}

  put(key: string, bytes: Buffer): void {
    this.objects.set(key, Buffer.from(bytes));
  }

  get(key: string): Buffer | undefined {
    return this.objects.get(key);
  }

  keys(): string[] {
    return [...this.objects.keys()].sort();
  }

  private object(key: string, notFound: string): Buffer {
    const bytes = this.objects.get(key);
    if (!bytes) throw awsError(notFound, `no object ${key} in ${this.name}`, 404);
    return bytes;
  }

  private upload(uploadId: unknown) {
    const upload = this.uploads.get(String(uploadId));
    if (!upload) throw awsError('NoSuchUpload', `no multipart upload ${String(uploadId)}`, 404);
    return upload;
  }

  async send(command: SentCommand): Promise<unknown> {
    const input = command.input as Item & { Bucket?: string; Key?: string };
    this.commands.push(command.constructor.name);
    if (input.Bucket !== this.name) throw awsError('NoSuchBucket', `no bucket ${input.Bucket}`, 404);
    const key = String(input.Key);
    if (command instanceof PutObjectCommand) {
      const bytes = await bytesOf(input.Body);
      this.objects.set(key, bytes);
      return { ETag: etagOf(bytes), $metadata: ok };
    }
    if (command instanceof HeadObjectCommand) {
      // S3 answers a HEAD of a missing key with a bare 404, which the SDK names NotFound.
      const bytes = this.object(key, 'NotFound');
      return { ContentLength: bytes.length, ETag: etagOf(bytes), $metadata: ok };
    }
    if (command instanceof GetObjectCommand) {
      const bytes = this.object(key, 'NoSuchKey');
      const range = input.Range === undefined ? undefined : /^bytes=(\d+)-(\d+)$/.exec(String(input.Range));
      if (input.Range !== undefined && !range)
        throw new Error(`fake S3: Range ${String(input.Range)} is not "bytes=a-b"`);
      const start = range ? Number(range[1]) : 0;
      if (range && start >= bytes.length)
        throw awsError('InvalidRange', 'The requested range is not satisfiable', 416);
      const end = range ? Math.min(Number(range[2]), bytes.length - 1) : bytes.length - 1;
      const slice = bytes.subarray(start, end + 1);
      return { Body: responseBody(slice), ContentLength: slice.length, ETag: etagOf(bytes), $metadata: ok };
    }
    if (command instanceof DeleteObjectCommand) {
      this.objects.delete(key); // deleting a missing key is no error in S3
      return { $metadata: ok };
    }
    if (command instanceof CreateMultipartUploadCommand) {
      const uploadId = randomUUID();
      this.uploads.set(uploadId, { key, parts: new Map() });
      return { UploadId: uploadId, Bucket: this.name, Key: key, $metadata: ok };
    }
    if (command instanceof UploadPartCommand) {
      const bytes = await bytesOf(input.Body);
      this.upload(input.UploadId).parts.set(Number(input.PartNumber), bytes);
      return { ETag: etagOf(bytes), $metadata: ok };
    }
    if (command instanceof ListPartsCommand) {
      const parts = [...this.upload(input.UploadId).parts.entries()].sort(([a], [b]) => a - b);
      return {
        Parts: parts.map(([n, b]) => ({ PartNumber: n, ETag: etagOf(b), Size: b.length })),
        IsTruncated: false,
        $metadata: ok,
      };
    }
    if (command instanceof CompleteMultipartUploadCommand) {
      const upload = this.upload(input.UploadId);
      const listed =
        (input.MultipartUpload as { Parts?: Array<{ PartNumber?: number; ETag?: string }> })?.Parts ?? [];
      const chosen = listed.map((p, i) => {
        const bytes = upload.parts.get(p.PartNumber ?? 0);
        if (!bytes || etagOf(bytes).replace(/"/g, '') !== (p.ETag ?? '').replace(/"/g, ''))
          throw awsError('InvalidPart', `part ${p.PartNumber} was not uploaded with ETag ${p.ETag}`);
        if (i > 0 && (listed[i - 1]?.PartNumber ?? 0) >= (p.PartNumber ?? 0))
          throw awsError('InvalidPartOrder', 'the parts are not in ascending order');
        if (i < listed.length - 1 && bytes.length < MIN_PART_BYTES)
          throw awsError('EntityTooSmall', `part ${p.PartNumber} is smaller than 5 MiB`);
        return bytes;
      });
      this.uploads.delete(String(input.UploadId));
      const bytes = Buffer.concat(chosen);
      this.objects.set(upload.key, bytes);
      return { Bucket: this.name, Key: upload.key, ETag: etagOf(bytes), $metadata: ok };
    }
    if (command instanceof AbortMultipartUploadCommand) {
      this.upload(input.UploadId);
      this.uploads.delete(String(input.UploadId));
      return { $metadata: ok };
    }
    throw new Error(`fake S3: ${command.constructor.name} is not implemented`);
  }
}

// ---------------------------------------------------------------- Step Functions, EventBridge

/** A ScriptedService that answers the workflow's Step Functions calls as AWS does (until a test scripts otherwise). */
function fakeStepFunctions(): ScriptedService {
  return new ScriptedService('Step Functions')
    .on(SendTaskSuccessCommand, () => ({}))
    .on(SendTaskFailureCommand, () => ({}))
    .on(StartExecutionCommand, (input) => ({
      executionArn: `${input.stateMachineArn?.replace(':stateMachine:', ':execution:')}:${input.name}`,
      startDate: new Date(0),
    }))
    .on(StopExecutionCommand, () => ({ stopDate: new Date(0) }));
}

/** EventBridge Scheduler: accepts the gateway's timers (a test reads them back with inputsOf). */
function fakeScheduler(): ScriptedService {
  return new ScriptedService('Scheduler')
    .on(CreateScheduleCommand, (input) => ({
      ScheduleArn: `arn:aws:scheduler:us-east-1:000000000000:schedule/${input.GroupName}/${input.Name}`,
    }))
    .on(UpdateScheduleCommand, (input) => ({
      ScheduleArn: `arn:aws:scheduler:us-east-1:000000000000:schedule/${input.GroupName}/${input.Name}`,
    }))
    .on(DeleteScheduleCommand, () => ({}));
}

function fakeEventBridge(): ScriptedService {
  return new ScriptedService('EventBridge').on(PutEventsCommand, (input) => ({
    FailedEntryCount: 0,
    Entries: (input.Entries ?? []).map(() => ({ EventId: randomUUID() })),
  }));
}

// ---------------------------------------------------------------- clock, logger

/** A clock that moves only when told. */
export class FakeClock {
  private ms: number;
  constructor(start: Date) {
    this.ms = start.getTime();
  }
  now(): Date {
    return new Date(this.ms);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  extra: unknown[];
}

function recordingLogger(entries: LogEntry[]): Logger {
  const at =
    (level: LogEntry['level']) =>
    (message: string, ...extra: unknown[]) =>
      void entries.push({ level, message, extra });
  const logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    appendKeys: () => undefined,
  };
  // The steps use only these methods of the powertools Logger.
  return logger as unknown as Logger;
}

// ---------------------------------------------------------------- the deps

export interface FakeDeps {
  deps: GatewayDeps;
  table: FakeTable;
  bucket: FakeBucket;
  /** EC2 of every region (calls record the region). */
  ec2: ScriptedService;
  /** The EBS direct APIs of every region. */
  ebs: ScriptedService;
  /** The Azure SDK clients (used when the config has `azure`, see FAKE_AZURE_CONFIG). */
  azure: FakeAzure;
  sfn: ScriptedService;
  events: ScriptedService;
  scheduler: ScriptedService;
  clock: FakeClock;
  logs: LogEntry[];
  /** The state changes published on the event bus, in order. */
  stateChanges(): Array<{ jobId: string; from: string | null; to: string }>;
  /** Throws when any scripted service got a command no test scripted. */
  assertNoUnscriptedCalls(): void;
}

export const FAKE_CONFIG: GatewayConfig = {
  jobsTable: 'burstgate-jobs',
  stagingBucket: 'burstgate-staging',
  offloadStateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:burstgate-offload',
  returnStateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:burstgate-return',
  webhookStateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:burstgate-webhook',
  cancelStateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:burstgate-cancel',
  eventBusName: 'burstgate',
  vmImportRoleName: 'vmimport',
  region: 'us-east-1',
  presignExpiresSeconds: 3600,
  maxImportWaitMs: 6 * 3600 * 1000,
  timers: {
    groupName: 'burstgate',
    roleArn: 'arn:aws:iam::000000000000:role/burstgate-scheduler',
    stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:burstgate-timer',
  },
  defaultLeaseSeconds: 7 * 24 * 3600,
  leaseWarningSeconds: 3600,
};

/** An Azure configuration for `fakeDeps({ config: { azure: FAKE_AZURE_CONFIG } })`: no pauses between polls. */
export const FAKE_AZURE_CONFIG: AzureConfig = {
  defaultResourceGroup: 'burstgate-rg',
  lroPollIntervalMs: 0,
  uploadChunkBytes: 4 * 1024 * 1024,
  sasDurationSeconds: 3600,
  maxVmWaitMs: 30 * 60 * 1000,
};

/** A client object whose `send` goes to a fake (the steps call nothing else on an SDK client). */
const client = <T>(send: (command: SentCommand) => Promise<unknown>): T =>
  ({ send, destroy: () => undefined }) as unknown as T;

export function fakeDeps(opts: { config?: Partial<GatewayConfig>; start?: Date } = {}): FakeDeps {
  const config = { ...FAKE_CONFIG, ...opts.config };
  const table = new FakeTable(config.jobsTable);
  const bucket = new FakeBucket(config.stagingBucket);
  const ec2 = new ScriptedService('EC2');
  const ebs = new ScriptedService('EBS');
  const azure = new FakeAzure();
  const sfn = fakeStepFunctions();
  const events = fakeEventBridge();
  const scheduler = fakeScheduler();
  const clock = new FakeClock(opts.start ?? new Date('2025-01-06T09:00:00.000Z'));
  const logs: LogEntry[] = [];
  const ec2Clients = new Map<string, EC2Client>();
  const ebsClients = new Map<string, EBSClient>();
  const deps: GatewayDeps = {
    config,
    ddb: client<DynamoDBDocumentClient>((c) => table.send(c)),
    s3: client<S3Client>((c) => bucket.send(c)),
    ec2For: (region) => {
      if (!ec2Clients.has(region))
        ec2Clients.set(
          region,
          client<EC2Client>((c) => ec2.send(c, region)),
        );
      return ec2Clients.get(region)!;
    },
    ebsFor: (region) => {
      if (!ebsClients.has(region))
        ebsClients.set(
          region,
          client<EBSClient>((c) => ebs.send(c, region)),
        );
      return ebsClients.get(region)!;
    },
    sfn: client<SFNClient>((c) => sfn.send(c, config.region)),
    events: client<EventBridgeClient>((c) => events.send(c, config.region)),
    scheduler: client<SchedulerClient>((c) => scheduler.send(c, config.region)),
    azureClients: async () => azure.clients,
    logger: recordingLogger(logs),
    now: () => clock.now(),
  };
  return {
    deps,
    table,
    bucket,
    ec2,
    ebs,
    azure,
    sfn,
    events,
    scheduler,
    clock,
    logs,
    stateChanges: () =>
      events.inputsOf(PutEventsCommand).flatMap((input) =>
        (input.Entries ?? [])
          .filter((e) => e.DetailType === 'Job State Changed')
          .map((e) => {
            const d = JSON.parse(e.Detail ?? '{}') as { jobId: string; from: string | null; to: string };
            return { jobId: d.jobId, from: d.from, to: d.to };
          }),
      ),
    assertNoUnscriptedCalls: () => {
      const missing = [
        ...[ec2, ebs, sfn, events, scheduler].flatMap((s) => s.unscripted.map((u) => `${s.service}: ${u}`)),
        ...azure.unscripted.map((u) => `Azure: ${u}`),
      ];
      if (missing.length > 0) {
        throw new Error(`the step sent commands the test did not script:\n  ${missing.join('\n  ')}`);
      }
    },
  };
}
