/**
 * What one offload and its return make the gateway itself use: Lambda invocations and GB-seconds,
 * Step Functions state transitions, S3 requests, EBS direct API requests. Quotes price it as the
 * gateway's own fees (the cloud API requests beside them); the fees benchmark measures the same
 * counts on a real run and reports them beside this model.
 *
 * The model counts what the state machines do (infra/constructs/workflows.ts): fixed steps, one
 * Map item per chunk of the disk, a poll (Wait, Task, Choice) every POLL_SECONDS while the cloud
 * works. Durations are slow ends of what the steps take, so a quote errs high.
 */
import type { ServiceMeter } from './price-book';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export type OffloadPath = 'aws-direct' | 'aws-import' | 'azure';

export const GATEWAY_USAGE_MODEL = {
  /** API calls of one trip: create, upload-complete, return, and the client's status reads. */
  apiCalls: 3,
  statusReads: 20,
  apiMemoryGb: 0.25,
  apiSeconds: 0.3,
  /** Non-streaming steps (infra/constructs/functions.ts STEP_MEMORY). */
  stepMemoryGb: 0.25,
  stepSeconds: 0.5,
  /** Steps that stream disk bytes (STREAMING_STEP_MEMORY), at this rate. */
  streamingMemoryGb: 1,
  streamingBytesPerSecond: 40 * MiB,
  /** Upload parts (shared/store/staging.ts MIN_PART_SIZE) and the disk chunk of one Map item. */
  partBytes: 16 * MiB,
  maxParts: 2000,
  chunkBytes: 1 * GiB,
  /** EBS direct APIs move 512 KiB blocks; ListChangedBlocks pages up to 10 000 of them. */
  ebsBlockBytes: 512 * 1024,
  ebsListPageBlocks: 10_000,
  /** Seconds between polls; how long the cloud's side takes (boot, snapshot, export) besides the bytes. */
  pollSeconds: 30,
  cloudWorkSeconds: { 'aws-direct': 600, 'aws-import': 2400, azure: 900 } as Readonly<
    Record<OffloadPath, number>
  >,
  /** VM Import converts the disk's data at about this rate (the export's rate, return-estimate.ts). */
  importBytesPerSecond: 25 * MiB,
  /** Fixed steps of offload plus return (Inspect, Launch, MarkRunning, Stop, Publish, Cleanup …). */
  fixedSteps: { 'aws-direct': 12, 'aws-import': 10, azure: 14 } as Readonly<Record<OffloadPath, number>>,
  /** Transitions per fixed step, per poll, per Map item (Task plus the Choice or Pass around it). */
  transitionsPerStep: 2,
  transitionsPerPoll: 3,
  transitionsPerItem: 3,
} as const;

export interface TripBytes {
  /** The image as uploaded (staged in S3). */
  imageBytes: number;
  /** Bytes of disk that hold data (what is written into the cloud disk). */
  allocatedBytes: number;
  /** Bytes that come home. */
  returnBytes: number;
}

export type GatewayUsage = Readonly<Record<ServiceMeter, number>>;

/**
 * Seconds from upload-complete to running on `path`: the disk's data streamed through the gateway
 * (direct, Azure) or converted by VM Import, then the cloud's own work.
 */
export function secondsToRunning(path: OffloadPath, allocatedBytes: number): number {
  const m = GATEWAY_USAGE_MODEL;
  const rate = path === 'aws-import' ? m.importBytesPerSecond : m.streamingBytesPerSecond;
  return Math.round(m.cloudWorkSeconds[path] + allocatedBytes / rate);
}

/** The usage of one offload and its return on `path`. */
export function estimateGatewayUsage(path: OffloadPath, bytes: TripBytes): GatewayUsage {
  const m = GATEWAY_USAGE_MODEL;
  const items = Math.max(1, Math.ceil(bytes.allocatedBytes / m.chunkBytes));
  // the state machine polls while VM Import works; direct and Azure poll only the cloud's own work
  const waited =
    path === 'aws-import' ? secondsToRunning(path, bytes.allocatedBytes) : m.cloudWorkSeconds[path];
  const polls = Math.ceil(waited / m.pollSeconds);
  const fixed = m.fixedSteps[path];
  // Streamed bytes: Inspect reads the image once; direct and Azure write the disk's data; the
  // return reads what comes home and publishes it.
  const streamed =
    bytes.imageBytes + (path === 'aws-import' ? 0 : bytes.allocatedBytes) + 2 * bytes.returnBytes;
  const streamingSeconds = streamed / m.streamingBytesPerSecond;
  const stepInvocations = fixed + polls + (path === 'aws-import' ? 0 : items);
  const apiInvocations = m.apiCalls + m.statusReads;
  const lambdaGbSeconds =
    apiInvocations * m.apiMemoryGb * m.apiSeconds +
    (fixed + polls) * m.stepMemoryGb * m.stepSeconds +
    streamingSeconds * m.streamingMemoryGb;
  const uploadParts = partsOf(bytes.imageBytes);
  const returnParts = partsOf(bytes.returnBytes);
  const blocksIn = Math.ceil(bytes.allocatedBytes / m.ebsBlockBytes);
  const blocksOut = Math.ceil(bytes.returnBytes / m.ebsBlockBytes);
  return {
    'lambda-requests': stepInvocations + apiInvocations,
    'lambda-gb-seconds': lambdaGbSeconds,
    'sfn-state-transitions':
      fixed * m.transitionsPerStep +
      polls * m.transitionsPerPoll +
      (path === 'aws-import' ? 0 : items * m.transitionsPerItem),
    // create + parts + complete of the upload and of the published return; the download's parts
    's3-write-requests': uploadParts + 2 + returnParts + 2,
    // Inspect reads the image in parts; direct and Azure read their chunk's parts again; the download
    's3-read-requests': uploadParts * (path === 'aws-import' ? 1 : 2) + returnParts,
    'ebs-put-block': path === 'aws-direct' ? blocksIn : 0,
    'ebs-get-block': path === 'aws-direct' ? blocksOut : 0,
    'ebs-list-blocks': path === 'aws-direct' ? Math.max(1, Math.ceil(blocksOut / m.ebsListPageBlocks)) : 0,
  };
}

/**
 * Multipart parts of an object as the staging bucket cuts them (shared/store/staging.ts
 * partSizeFor): 16 MiB each, larger (whole MiB) once 2000 parts would not hold it.
 */
function partsOf(bytes: number): number {
  const m = GATEWAY_USAGE_MODEL;
  const part = Math.max(m.partBytes, Math.ceil(bytes / m.maxParts / MiB) * MiB);
  return Math.ceil(bytes / part);
}

/** The meters that are the gateway's own compute and orchestration (the rest are cloud API fees). */
export const GATEWAY_COMPUTE_METERS: readonly ServiceMeter[] = [
  'lambda-requests',
  'lambda-gb-seconds',
  'sfn-state-transitions',
];
