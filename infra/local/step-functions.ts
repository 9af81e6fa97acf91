/**
 * A local AWS Step Functions service: an HTTP endpoint speaking the real JSON 1.0 protocol (so the
 * handlers use `@aws-sdk/client-sfn` unchanged) that runs executions of the synthesized ASL with
 * aws-local-stepfunctions, every Task state running a function of the local Lambda host.
 *
 * `.waitForTaskToken` is not supported by the library, so a shim does it: the execution's context
 * object carries a per-execution placeholder as `$$.Task.Token`; when the state runs, the shim
 * generates a real token, puts it where the placeholder landed in the payload, invokes the function,
 * then waits for SendTaskSuccess / SendTaskFailure / the state's timeouts.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { StateMachine, type RunOptions, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { deepClone, forEachState, taskKind, type AslDefinition, type AslState } from './asl';
import { LOCAL_ACCOUNT_ID, localExecutionArn, localStateMachineArn } from './constants';
import { closeServer, listen, readBody, sendJson } from './http-util';
import { lambdaErrorPayload } from './lambda-host';

// aws-local-stepfunctions 3 targets Node 22; on Node 20 it needs Promise.withResolvers.
installPromiseWithResolvers();

export function installPromiseWithResolvers(): void {
  const P = Promise as unknown as { withResolvers?: () => unknown };
  if (typeof P.withResolvers === 'function') return;
  P.withResolvers = function withResolvers<T>() {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

/** The largest delay `setTimeout` honours (2^31-1 ms), in whole seconds. */
const MAX_TIMER_SECONDS = 2_147_483;
const SFN_CONTENT_TYPE = 'application/x-amz-json-1.0';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface ExecutionRecord {
  executionArn: string;
  stateMachineArn: string;
  stateMachineName: string;
  name: string;
  status: ExecutionStatus;
  /** Input and output as JSON text, as DescribeExecution returns them. */
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  startDate: Date;
  stopDate?: Date;
}

export interface PendingTask {
  taskToken: string;
  executionArn: string;
  stateName: string;
  functionName: string;
  payload: unknown;
}

export interface StepFunctionsOptions {
  stateMachines: Array<{ name: string; definition: AslDefinition }>;
  /** Invokes a function by ARN or name (the local Lambda host); rejects with the function's error. */
  invokeFunction(functionRef: string, payload: unknown): Promise<unknown>;
  /** Wait state durations in ms: one number for every Wait state, or by state name. */
  waitTimeOverrides?: number | Record<string, number>;
  /** Duration (ms) of the Wait states `waitTimeOverrides` does not name (default: as the ASL says). */
  defaultWaitMs?: number;
  /** Retry pauses in ms: one number for every retrier, or by state name (number or one per retrier). */
  retryIntervalOverrides?: number | Record<string, number | number[]>;
  /** Retry pause (ms) of the states `retryIntervalOverrides` does not name (default: as the ASL says). */
  defaultRetryMs?: number;
  port?: number;
  /**
   * Where execution records are kept across restarts (JSON). Executions are not resumed: one that
   * was running when the process stopped is ABORTED (`Local.Shutdown`, or `Local.Restarted` after a
   * crash), as DescribeExecution then reports.
   */
  stateFile?: string;
  /** Receives one line per execution start/end (default: nothing). */
  log?: (line: string) => void;
}

/** A Step Functions API error, answered as `{ "__type": code, "message": ... }` with status 400. */
export class SfnApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = code;
  }
}

/** The error a failed task reports to the state machine: `name` is what Retry/Catch match on. */
export class TaskFailedError extends Error {
  constructor(errorName: string, cause: string) {
    super(cause);
    this.name = errorName;
  }
}

interface Machine {
  name: string;
  arn: string;
  definition: AslDefinition;
  runnable: StateMachine;
  createdAt: Date;
  waitOverrides: Record<string, number>;
  retryOverrides: Record<string, number | number[]>;
}

interface Running {
  record: ExecutionRecord;
  finished: boolean;
  abort?: () => void;
  placeholder: string;
  done: Promise<ExecutionRecord>;
  finish: (record: ExecutionRecord) => void;
}

interface TokenWaiter extends PendingTask {
  resolve(output: unknown): void;
  reject(err: Error): void;
  heartbeat?: () => void;
  timers: NodeJS.Timeout[];
}

const EXECUTION_NAME = /^[A-Za-z0-9_-]{1,80}$/;

export class LocalStepFunctions extends EventEmitter {
  url = '';
  port = 0;
  private readonly server: http.Server;
  private readonly machines = new Map<string, Machine>();
  private readonly executions = new Map<string, Running>();
  private readonly waiters = new Map<string, TokenWaiter>();
  /** Tokens that were issued and are closed: using one again is TaskTimedOut, as in AWS. */
  private readonly closedTokens = new Set<string>();
  private closed = false;

  constructor(private readonly opts: StepFunctionsOptions) {
    super();
    for (const sm of opts.stateMachines) this.addStateMachine(sm.name, sm.definition);
    this.server = http.createServer((req, res) => {
      this.handleHttp(req, res).catch((err: unknown) => {
        if (!res.headersSent)
          sendJson(res, 500, { __type: 'InternalFailure', message: String(err) }, SFN_CONTENT_TYPE);
      });
    });
  }

  async start(): Promise<this> {
    await this.load();
    this.port = await listen(this.server, this.opts.port ?? 0);
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  // ---------------------------------------------------------------- state machines

  private addStateMachine(name: string, definition: AslDefinition): void {
    const arn = localStateMachineArn(name);
    const runnableDefinition = deepClone(definition);
    const waitOverrides: Record<string, number> = {};
    const retryOverrides: Record<string, number | number[]> = {};
    const {
      waitTimeOverrides: wait,
      retryIntervalOverrides: retry,
      defaultWaitMs,
      defaultRetryMs,
    } = this.opts;
    forEachState(runnableDefinition, (stateName, state) => {
      if (state.Type === 'Wait') {
        const ms = typeof wait === 'number' ? wait : (wait?.[stateName] ?? defaultWaitMs);
        if (ms !== undefined) waitOverrides[stateName] = ms;
      }
      if (Array.isArray(state.Retry)) {
        const ms = typeof retry === 'number' ? retry : (retry?.[stateName] ?? defaultRetryMs);
        if (ms !== undefined) retryOverrides[stateName] = ms;
      }
      if (state.Type === 'Task') {
        const kind = taskKind(state);
        if (kind.kind === 'unsupported') {
          throw new Error(
            `state machine ${name}, state ${stateName}: resource ${kind.resource} is not supported locally`,
          );
        }
        // AWS Task states have no timeout unless one is set; the library defaults to 60 s.
        if (state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
          state.TimeoutSeconds = MAX_TIMER_SECONDS;
        } else if (typeof state.TimeoutSeconds === 'number' && state.TimeoutSeconds > MAX_TIMER_SECONDS) {
          state.TimeoutSeconds = MAX_TIMER_SECONDS;
        }
        // The library does not know HeartbeatSeconds; the token shim enforces it.
        delete state.HeartbeatSeconds;
        delete state.HeartbeatSecondsPath;
      }
    });
    const runnable = new StateMachine(runnableDefinition as unknown as StateMachineDefinition, {
      validationOptions: { checkArn: true, checkPaths: true },
    });
    this.machines.set(arn, {
      name,
      arn,
      definition,
      runnable,
      createdAt: new Date(),
      waitOverrides,
      retryOverrides,
    });
  }

  /** Task handlers for one execution, keyed by state name (what the library's overrides take). */
  private taskHandlers(machine: Machine, run: Running): Record<string, (input: unknown) => Promise<unknown>> {
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    forEachState(machine.definition, (stateName, state) => {
      if (state.Type !== 'Task') return;
      const kind = taskKind(state);
      if (kind.kind === 'function') {
        handlers[stateName] = (input) => this.invokeForTask(kind.functionRef, input);
      } else if (kind.kind === 'lambda-invoke' && !kind.waitForTaskToken) {
        handlers[stateName] = async (input) => {
          const { FunctionName, Payload } = invokeParameters(input, stateName);
          const result = await this.invokeForTask(FunctionName, Payload);
          return {
            ExecutedVersion: '$LATEST',
            Payload: result,
            SdkHttpMetadata: { HttpStatusCode: 200 },
            SdkResponseMetadata: { RequestId: randomUUID() },
            StatusCode: 200,
          };
        };
      } else if (kind.kind === 'lambda-invoke') {
        handlers[stateName] = (input) => this.waitForTaskToken(run, stateName, state, input);
      }
    });
    return handlers;
  }

  private async invokeForTask(functionRef: string, payload: unknown): Promise<unknown> {
    try {
      return await this.opts.invokeFunction(functionRef, payload);
    } catch (err) {
      throw toTaskError(err);
    }
  }

  private waitForTaskToken(
    run: Running,
    stateName: string,
    state: AslState,
    input: unknown,
  ): Promise<unknown> {
    const { FunctionName, Payload } = invokeParameters(input, stateName);
    const taskToken = `AQ${randomBytes(96).toString('base64url')}`;
    const payload = replaceInStrings(Payload, run.placeholder, taskToken);
    return new Promise<unknown>((resolve, reject) => {
      const waiter: TokenWaiter = {
        taskToken,
        executionArn: run.record.executionArn,
        stateName,
        functionName: FunctionName,
        payload,
        timers: [],
        resolve: (output) => {
          this.closeToken(waiter);
          resolve(output);
        },
        reject: (err) => {
          this.closeToken(waiter);
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
      this.emit('task-token', { ...publicTask(waiter) });
      this.opts.invokeFunction(FunctionName, payload).catch((err: unknown) => {
        if (this.waiters.get(taskToken) === waiter) waiter.reject(toTaskError(err));
      });
    });
  }

  private closeToken(waiter: TokenWaiter): void {
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

  // ---------------------------------------------------------------- API operations

  startExecution(req: { stateMachineArn?: unknown; name?: unknown; input?: unknown }): {
    executionArn: string;
    startDate: Date;
  } {
    if (this.closed)
      throw new SfnApiError('ServiceUnavailable', 'the local Step Functions service is closed', 503);
    if (typeof req.stateMachineArn !== 'string')
      throw new SfnApiError('InvalidArn', 'stateMachineArn is required');
    const machine = this.machines.get(req.stateMachineArn);
    if (!machine)
      throw new SfnApiError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${req.stateMachineArn}'`,
      );
    const name = req.name === undefined ? randomUUID() : req.name;
    if (typeof name !== 'string' || !EXECUTION_NAME.test(name)) {
      throw new SfnApiError('InvalidName', `Invalid Name: '${String(name)}'`);
    }
    const inputText = req.input === undefined ? '{}' : req.input;
    if (typeof inputText !== 'string')
      throw new SfnApiError('InvalidExecutionInput', 'input must be a JSON string');
    let input: unknown;
    try {
      input = JSON.parse(inputText);
    } catch (err) {
      throw new SfnApiError(
        'InvalidExecutionInput',
        `Invalid State Machine Execution Input: '${(err as Error).message}'`,
      );
    }
    const executionArn = localExecutionArn(machine.name, name);
    const existing = this.executions.get(executionArn);
    if (existing) {
      // Same name and input while it runs: idempotent, as in AWS (Standard workflows).
      if (existing.record.status === 'RUNNING' && existing.record.input === inputText) {
        return { executionArn, startDate: existing.record.startDate };
      }
      throw new SfnApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn: machine.arn,
      stateMachineName: machine.name,
      name,
      status: 'RUNNING',
      input: inputText,
      startDate: new Date(),
    };
    let finish!: (r: ExecutionRecord) => void;
    const done = new Promise<ExecutionRecord>((resolve) => (finish = resolve));
    const run: Running = {
      record,
      finished: false,
      placeholder: `burstgate-local-task-token:${randomUUID()}`,
      done,
      finish,
    };
    this.executions.set(executionArn, run);
    this.save();
    this.launch(machine, run, input);
    return { executionArn, startDate: record.startDate };
  }

  private launch(machine: Machine, run: Running, input: unknown): void {
    const { record } = run;
    const options: RunOptions = {
      overrides: {
        taskResourceLocalHandlers: this.taskHandlers(machine, run) as never,
        waitTimeOverrides: machine.waitOverrides,
        retryIntervalOverrides: machine.retryOverrides,
      },
      context: {
        Execution: {
          Id: record.executionArn,
          Name: record.name,
          RoleArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${machine.name}-role`,
          StartTime: record.startDate.toISOString(),
        },
        StateMachine: { Id: machine.arn, Name: machine.name },
        Task: { Token: run.placeholder },
      },
    };
    this.opts.log?.(`execution started ${record.executionArn}`);
    try {
      const execution = machine.runnable.run(input as never, options);
      run.abort = execution.abort;
      // Drain the event log so it does not grow unread; keep nothing.
      void (async () => {
        for await (const event of execution.eventLogs)
          this.emit('execution-event', record.executionArn, event);
      })().catch(() => undefined);
      execution.result
        .then(
          (output) => this.finish(run, { status: 'SUCCEEDED', output: JSON.stringify(output ?? null) }),
          (err: unknown) => this.finish(run, failureOf(err)),
        )
        .catch((err: unknown) => this.opts.log?.(`execution bookkeeping failed: ${String(err)}`));
    } catch (err) {
      this.finish(run, failureOf(err));
    }
  }

  private finish(run: Running, outcome: Partial<ExecutionRecord>): void {
    if (run.finished) return;
    run.finished = true;
    const { record } = run;
    Object.assign(record, outcome, { stopDate: new Date() });
    // Tokens of tasks still waiting (an abort, a failed Parallel branch) are retired without settling
    // their promise: settling it could let a Retry/Catch run more states of an execution that is over.
    for (const waiter of [...this.waiters.values()]) {
      if (waiter.executionArn === record.executionArn) this.closeToken(waiter);
    }
    this.opts.log?.(
      `execution ${record.status.toLowerCase()} ${record.executionArn}${record.error ? ` (${record.error})` : ''}`,
    );
    run.finish(record);
    this.save();
    this.emit('execution-finished', { ...record });
  }

  describeExecution(executionArn: unknown): ExecutionRecord {
    return { ...this.running(executionArn).record };
  }

  private running(executionArn: unknown): Running {
    if (typeof executionArn !== 'string' || !executionArn.startsWith('arn:')) {
      throw new SfnApiError('InvalidArn', `Invalid Arn: '${String(executionArn)}'`);
    }
    const run = this.executions.get(executionArn);
    if (!run) throw new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return run;
  }

  stopExecution(executionArn: unknown, error?: string, cause?: string): { stopDate: Date } {
    const run = this.running(executionArn);
    if (!run.finished) {
      this.finish(run, {
        status: 'ABORTED',
        ...(error !== undefined ? { error } : {}),
        ...(cause !== undefined ? { cause } : {}),
      });
      run.abort?.();
    }
    return { stopDate: run.record.stopDate ?? new Date() };
  }

  sendTaskSuccess(taskToken: unknown, output: unknown): void {
    if (typeof output !== 'string') throw new SfnApiError('InvalidOutput', 'output must be a JSON string');
    let parsed: unknown;
    try {
      parsed = JSON.parse(output);
    } catch (err) {
      throw new SfnApiError('InvalidOutput', `Invalid Output: '${(err as Error).message}'`);
    }
    this.waiterFor(taskToken).resolve(parsed);
  }

  sendTaskFailure(taskToken: unknown, error?: unknown, cause?: unknown): void {
    const waiter = this.waiterFor(taskToken);
    waiter.reject(
      new TaskFailedError(typeof error === 'string' ? error : '', typeof cause === 'string' ? cause : ''),
    );
  }

  sendTaskHeartbeat(taskToken: unknown): void {
    this.waiterFor(taskToken).heartbeat?.();
  }

  listExecutions(stateMachineArn?: string, statusFilter?: ExecutionStatus): ExecutionRecord[] {
    return [...this.executions.values()]
      .map((r) => r.record)
      .filter((r) => (stateMachineArn ? r.stateMachineArn === stateMachineArn : true))
      .filter((r) => (statusFilter ? r.status === statusFilter : true))
      .sort((a, b) => b.startDate.getTime() - a.startDate.getTime())
      .map((r) => ({ ...r }));
  }

  /** Resolves when the execution is no longer RUNNING. */
  waitForExecution(executionArn: string): Promise<ExecutionRecord> {
    return this.running(executionArn).done.then((r) => ({ ...r }));
  }

  /** Tasks waiting for SendTaskSuccess/Failure (optionally of one execution). */
  pendingTasks(executionArn?: string): PendingTask[] {
    return [...this.waiters.values()]
      .filter((w) => (executionArn ? w.executionArn === executionArn : true))
      .map(publicTask);
  }

  stateMachineArns(): string[] {
    return [...this.machines.keys()];
  }

  /** Aborts running executions and stops the endpoint. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const run of this.executions.values()) {
      if (!run.finished) {
        this.stopExecution(run.record.executionArn, 'Local.Shutdown', 'the embedded deployment was stopped');
      }
    }
    await closeServer(this.server);
    await this.saving;
  }

  private saving: Promise<void> = Promise.resolve();

  /** Writes every execution record to `stateFile` (serialized; atomic rename). */
  private save(): void {
    const file = this.opts.stateFile;
    if (!file) return;
    const records = [...this.executions.values()].map((r) => r.record);
    const text = JSON.stringify({ version: 1, executions: records });
    this.saving = this.saving
      .then(async () => {
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(`${file}.tmp`, text);
        await rename(`${file}.tmp`, file);
      })
      .catch((err: unknown) => this.opts.log?.(`could not save executions to ${file}: ${String(err)}`));
  }

  private async load(): Promise<void> {
    const file = this.opts.stateFile;
    if (!file) return;
    let saved: {
      executions?: Array<
        Omit<ExecutionRecord, 'startDate' | 'stopDate'> & { startDate: string; stopDate?: string }
      >;
    };
    try {
      saved = JSON.parse(await readFile(file, 'utf8')) as typeof saved;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new Error(`cannot read the saved executions in ${file}: ${(err as Error).message}`);
    }
    for (const r of saved.executions ?? []) {
      if (!this.machines.has(r.stateMachineArn)) continue;
      const { stopDate, ...rest } = r;
      const record: ExecutionRecord = {
        ...rest,
        startDate: new Date(r.startDate),
        ...(stopDate ? { stopDate: new Date(stopDate) } : {}),
      };
      if (record.status === 'RUNNING') {
        Object.assign(record, {
          status: 'ABORTED',
          error: 'Local.Restarted',
          cause: 'the embedded deployment stopped while this execution ran; local executions are not resumed',
          stopDate: new Date(),
        });
      }
      this.executions.set(record.executionArn, {
        record,
        finished: true,
        placeholder: '',
        done: Promise.resolve(record),
        finish: () => undefined,
      });
    }
  }

  // ---------------------------------------------------------------- HTTP protocol

  private async handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
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
      reply(200, this.dispatch(op, body));
    } catch (err) {
      if (err instanceof SfnApiError) reply(err.status, { __type: err.code, message: err.message });
      else reply(500, { __type: 'InternalFailure', message: (err as Error).message });
    }
  }

  private dispatch(op: string, body: Record<string, unknown>): unknown {
    const seconds = (d: Date | undefined) => (d ? d.getTime() / 1000 : undefined);
    switch (op) {
      case 'StartExecution': {
        const out = this.startExecution(body);
        return { executionArn: out.executionArn, startDate: seconds(out.startDate) };
      }
      case 'DescribeExecution': {
        const r = this.describeExecution(body.executionArn);
        return {
          executionArn: r.executionArn,
          stateMachineArn: r.stateMachineArn,
          name: r.name,
          status: r.status,
          startDate: seconds(r.startDate),
          stopDate: seconds(r.stopDate),
          input: r.input,
          inputDetails: { included: true },
          ...(r.output !== undefined ? { output: r.output, outputDetails: { included: true } } : {}),
          ...(r.error ? { error: r.error } : {}),
          ...(r.cause ? { cause: r.cause } : {}),
        };
      }
      case 'StopExecution': {
        const out = this.stopExecution(
          body.executionArn,
          typeof body.error === 'string' ? body.error : undefined,
          typeof body.cause === 'string' ? body.cause : undefined,
        );
        return { stopDate: seconds(out.stopDate) };
      }
      case 'SendTaskSuccess':
        this.sendTaskSuccess(body.taskToken, body.output);
        return {};
      case 'SendTaskFailure':
        this.sendTaskFailure(body.taskToken, body.error, body.cause);
        return {};
      case 'SendTaskHeartbeat':
        this.sendTaskHeartbeat(body.taskToken);
        return {};
      case 'ListExecutions': {
        const arn = body.stateMachineArn;
        if (typeof arn !== 'string' || !this.machines.has(arn)) {
          throw new SfnApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${String(arn)}'`);
        }
        const all = this.listExecutions(arn, body.statusFilter as ExecutionStatus | undefined);
        const start = typeof body.nextToken === 'string' ? Number(body.nextToken) || 0 : 0;
        const max = typeof body.maxResults === 'number' && body.maxResults > 0 ? body.maxResults : 100;
        const page = all.slice(start, start + max);
        return {
          executions: page.map((r) => ({
            executionArn: r.executionArn,
            stateMachineArn: r.stateMachineArn,
            name: r.name,
            status: r.status,
            startDate: seconds(r.startDate),
            stopDate: seconds(r.stopDate),
          })),
          ...(start + max < all.length ? { nextToken: String(start + max) } : {}),
        };
      }
      case 'ListStateMachines':
        return {
          stateMachines: [...this.machines.values()].map((m) => ({
            stateMachineArn: m.arn,
            name: m.name,
            type: 'STANDARD',
            creationDate: seconds(m.createdAt),
          })),
        };
      case 'DescribeStateMachine': {
        const machine = this.machines.get(String(body.stateMachineArn));
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
}

export async function startStepFunctions(opts: StepFunctionsOptions): Promise<LocalStepFunctions> {
  return new LocalStepFunctions(opts).start();
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

function invokeParameters(input: unknown, stateName: string): { FunctionName: string; Payload: unknown } {
  const params = (input ?? {}) as Record<string, unknown>;
  if (typeof params.FunctionName !== 'string') {
    throw new TaskFailedError(
      'States.Runtime',
      `state ${stateName}: lambda:invoke without Parameters.FunctionName`,
    );
  }
  return { FunctionName: params.FunctionName, Payload: 'Payload' in params ? params.Payload : null };
}

/** A function's error as Step Functions reports it: Error = errorType, Cause = Lambda's error payload (JSON). */
function toTaskError(err: unknown): TaskFailedError {
  if (err instanceof Error && err.name === 'ResourceNotFoundException') {
    return new TaskFailedError('Lambda.ResourceNotFoundException', err.message);
  }
  const payload = lambdaErrorPayload(err);
  return new TaskFailedError(payload.errorType, JSON.stringify(payload));
}

function failureOf(err: unknown): Partial<ExecutionRecord> {
  const e = err as Error & { cause?: unknown };
  switch (e?.name) {
    case 'ExecutionAbortedError':
      return { status: 'ABORTED' };
    case 'ExecutionTimeoutError':
      return { status: 'TIMED_OUT', error: 'States.Timeout' };
    case 'ExecutionError': {
      const cause = e.cause as Error | undefined;
      return {
        status: 'FAILED',
        ...(cause?.name ? { error: cause.name } : {}),
        ...(cause?.message ? { cause: cause.message } : {}),
      };
    }
    default:
      return { status: 'FAILED', error: 'States.Runtime', cause: e?.message ?? String(err) };
  }
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
