/**
 * The `.waitForTaskToken` shim (aws-local-stepfunctions has no such integration). Each execution's
 * context object carries a placeholder as `$$.Task.Token`; when a waiting state runs, its real token
 * replaces the placeholder wherever it landed in the payload, the function is invoked, and the state
 * waits for SendTaskSuccess / SendTaskFailure / its TimeoutSeconds and HeartbeatSeconds.
 */
import { randomBytes } from 'node:crypto';
import type { AslState } from './asl';
import { toTaskError } from './sfn-machines';
import { MAX_TIMER_SECONDS, SfnApiError, TaskFailedError, type PendingTask } from './sfn-model';

interface TokenWaiter extends PendingTask {
  resolve(output: unknown): void;
  reject(err: Error): void;
  heartbeat?: () => void;
  timers: NodeJS.Timeout[];
}

export class TaskTokens {
  private readonly waiters = new Map<string, TokenWaiter>();
  /** Tokens that were issued and are closed: using one again is TaskTimedOut, as in AWS. */
  private readonly closedTokens = new Set<string>();

  constructor(
    private readonly invokeFunction: (functionRef: string, payload: unknown) => Promise<unknown>,
    /** Told of every token as it is issued, before the function runs. */
    private readonly onIssued: (task: PendingTask) => void,
  ) {}

  /** Runs one waiting state of an execution: settles with the output SendTaskSuccess gives. */
  await(
    executionArn: string,
    placeholder: string,
    stateName: string,
    state: AslState,
    functionName: string,
    functionPayload: unknown,
  ): Promise<unknown> {
    const taskToken = `AQ${randomBytes(96).toString('base64url')}`;
    const payload = replaceInStrings(functionPayload, placeholder, taskToken);
    return new Promise<unknown>((resolve, reject) => {
      const waiter: TokenWaiter = {
        taskToken,
        executionArn,
        stateName,
        functionName,
        payload,
        timers: [],
        resolve: (output) => {
          this.close(waiter);
          resolve(output);
        },
        reject: (err) => {
          this.close(waiter);
          reject(err);
        },
      };
      // Registered before the function runs: it may report success before it returns.
      this.waiters.set(taskToken, waiter);
      const timeout = typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds : undefined;
      if (timeout !== undefined && timeout <= MAX_TIMER_SECONDS) {
        // The library enforces TimeoutSeconds itself (States.Timeout); this only retires the token just after.
        waiter.timers.push(
          setTimeout(
            () => waiter.reject(new TaskFailedError('States.Timeout', 'Task timed out')),
            timeout * 1000 + 50,
          ),
        );
      }
      const heartbeat = typeof state.HeartbeatSeconds === 'number' ? state.HeartbeatSeconds : undefined;
      if (heartbeat !== undefined) {
        let timer: NodeJS.Timeout | undefined;
        waiter.heartbeat = () => {
          if (timer) clearTimeout(timer);
          timer = setTimeout(
            () =>
              waiter.reject(
                new TaskFailedError('States.HeartbeatTimeout', 'No heartbeat within HeartbeatSeconds'),
              ),
            Math.min(heartbeat, MAX_TIMER_SECONDS) * 1000,
          );
          waiter.timers = [...waiter.timers.filter((t) => t !== timer), timer];
        };
        waiter.heartbeat();
      }
      this.onIssued(publicTask(waiter));
      this.invokeFunction(functionName, payload).catch((err: unknown) => {
        if (this.waiters.get(taskToken) === waiter) waiter.reject(toTaskError(err));
      });
    });
  }

  /** SendTaskSuccess: `output` is the task's output as JSON text. */
  succeed(taskToken: unknown, output: unknown): void {
    if (typeof output !== 'string') throw new SfnApiError('InvalidOutput', 'output must be a JSON string');
    let parsed: unknown;
    try {
      parsed = JSON.parse(output);
    } catch (err) {
      throw new SfnApiError('InvalidOutput', `Invalid Output: '${(err as Error).message}'`);
    }
    this.waiterFor(taskToken).resolve(parsed);
  }

  /** SendTaskFailure. */
  fail(taskToken: unknown, error?: unknown, cause?: unknown): void {
    const waiter = this.waiterFor(taskToken);
    waiter.reject(
      new TaskFailedError(typeof error === 'string' ? error : '', typeof cause === 'string' ? cause : ''),
    );
  }

  /** SendTaskHeartbeat. */
  heartbeat(taskToken: unknown): void {
    this.waiterFor(taskToken).heartbeat?.();
  }

  /**
   * Retires the tokens of an execution that ended without settling their promises: settling one
   * could let a Retry/Catch run more states of an execution that is over.
   */
  retireExecution(executionArn: string): void {
    for (const waiter of [...this.waiters.values()]) {
      if (waiter.executionArn === executionArn) this.close(waiter);
    }
  }

  /** Tasks waiting for SendTaskSuccess/Failure (optionally of one execution). */
  pending(executionArn?: string): PendingTask[] {
    return [...this.waiters.values()]
      .filter((w) => (executionArn ? w.executionArn === executionArn : true))
      .map(publicTask);
  }

  private close(waiter: TokenWaiter): void {
    for (const timer of waiter.timers) clearTimeout(timer);
    if (this.waiters.get(waiter.taskToken) === waiter) this.waiters.delete(waiter.taskToken);
    this.closedTokens.add(waiter.taskToken);
  }

  private waiterFor(taskToken: unknown): TokenWaiter {
    if (typeof taskToken !== 'string' || taskToken.length === 0 || taskToken.length > 2048) {
      throw new SfnApiError('InvalidToken', 'Invalid Token');
    }
    const waiter = this.waiters.get(taskToken);
    if (waiter) return waiter;
    if (this.closedTokens.has(taskToken)) {
      throw new SfnApiError('TaskTimedOut', "Task Timed Out: 'Provided task does not exist anymore'");
    }
    throw new SfnApiError(
      'InvalidToken',
      "Invalid token: 'Provided task token was not issued by this service'",
    );
  }
}

function publicTask(w: TokenWaiter): PendingTask {
  return {
    taskToken: w.taskToken,
    executionArn: w.executionArn,
    stateName: w.stateName,
    functionName: w.functionName,
    payload: w.payload,
  };
}

function replaceInStrings(value: unknown, placeholder: string, replacement: string): unknown {
  if (typeof value === 'string') return value.split(placeholder).join(replacement);
  if (Array.isArray(value)) return value.map((v) => replaceInStrings(v, placeholder, replacement));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, replaceInStrings(v, placeholder, replacement)]),
    );
  }
  return value;
}
