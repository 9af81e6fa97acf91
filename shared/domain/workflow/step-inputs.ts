/**
 * What each workflow step gets from its state machine, as zod schemas: the one place a step's input
 * is checked before the step runs. The state machines (infra/constructs/workflows.ts) build these
 * objects; a mismatch is a bug in a definition, so it fails the step with a StepInputError that
 * names the step and every wrong field rather than letting a step guess.
 */
import { z } from 'zod';
import { TIMER_KINDS, WINDOW_TIMER_KINDS } from '../../timers/job-timers';

const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** Every step's input: the job it works on. */
const job = z.object({ jobId: z.string().min(1) });

/** One Map-state item: bytes [offset, offset + length) of the disk or file (upload-plan.ts UploadRange). */
const uploadRange = z.object({ index: count, offset: count, length: count });

/** The workflow's `$.error` as a Catch hands it on: Lambda puts its error JSON in Cause. */
const workflowError = z.object({ Error: z.string().optional(), Cause: z.string().optional() }).optional();

export const STEP_INPUTS = {
  /** Most steps need nothing but the job. */
  job,
  awaitUpload: job.extend({ taskToken: z.string().min(1) }),
  /** AwaitLaunch, AzureAwaitLaunch: the task token a held or timed launch waits with. */
  awaitLaunch: job.extend({ taskToken: z.string().min(1) }),
  checkInstance: job.extend({ desired: z.enum(['running', 'stopped']) }),
  azureCheckVm: job.extend({ desired: z.enum(['running', 'deallocated']) }),
  /** Compensate, AzureCompensate, ReturnFailed, CancelFailed. */
  failed: job.extend({ error: workflowError }),
  /** PutBlocks and UploadRange (one Map item each). */
  uploadRange: job.extend({ range: uploadRange }),
  /** FinishSnapshot: the PutBlocks Map state's results. */
  finishSnapshot: job.extend({
    uploaded: z.array(
      z.object({ index: count, blocksPut: count, blocksSkipped: count, zeroBlocksPut: count }),
    ),
  }),
  /** FinishUpload: the UploadRange Map state's results. */
  finishUpload: job.extend({
    uploaded: z.array(z.object({ index: count, bytesWritten: count, pages: count })),
  }),
  /** FireTimer: what an EventBridge Scheduler timer carries (shared/timers/job-timers.ts TimerPayload). */
  timer: z.union([
    job.extend({
      timer: z.enum(TIMER_KINDS),
      dueAt: z.iso.datetime(),
      planned: z.iso.datetime(),
      /** Scheduler's `<aws.scheduler.scheduled-time>`: the occurrence the timer fired for. */
      scheduledTime: z.string().optional(),
    }),
    z.object({
      timer: z.enum(WINDOW_TIMER_KINDS),
      scheduleId: z.string().min(1),
      dueAt: z.iso.datetime(),
      planned: z.iso.datetime(),
      scheduledTime: z.string().optional(),
    }),
  ]),
  /** DeliverWebhook: which delivery (webhooks/outbox.ts), and the previous attempt's answer. */
  webhook: z.object({
    subject: z.union([
      z.object({ kind: z.literal('job'), id: z.string().min(1) }),
      z.object({ kind: z.literal('schedule'), id: z.string().min(1) }),
      z.object({ kind: z.literal('webhook'), id: z.string().min(1) }),
    ]),
    deliveryId: z.string().min(1),
  }),
} as const;

export type StepInputName = keyof typeof STEP_INPUTS;
export type StepInput<N extends StepInputName> = z.infer<(typeof STEP_INPUTS)[N]>;

/** A step's input is not what its state machine should have sent. */
export class StepInputError extends TypeError {
  override readonly name = 'StepInputError';
  constructor(
    readonly step: StepInputName,
    readonly issues: Array<{ path: string; message: string }>,
  ) {
    super(
      `step input (${step}) is not valid: ${issues.map((i) => `${i.path || '(input)'}: ${i.message}`).join('; ')}`,
    );
  }
}

/** The input, checked and with only the fields the step reads; StepInputError otherwise. */
export function parseStepInput<N extends StepInputName>(name: N, input: unknown): StepInput<N> {
  const parsed = STEP_INPUTS[name].safeParse(input);
  if (parsed.success) return parsed.data as StepInput<N>;
  throw new StepInputError(
    name,
    parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
  );
}
