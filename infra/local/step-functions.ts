/**
 * A local AWS Step Functions service: an HTTP endpoint speaking the real JSON 1.0 protocol (so the
 * handlers use `@aws-sdk/client-sfn` unchanged; sfn-protocol.ts) that runs executions of the
 * synthesized ASL with aws-local-stepfunctions (sfn-machines.ts), every Task state running a function
 * of the local Lambda host.
 *
 * `.waitForTaskToken` is not supported by the library, so a shim does it (sfn-task-tokens.ts): the
 * execution's context object carries a per-execution placeholder as `$$.Task.Token`; when the state
 * runs, the shim generates a real token, puts it where the placeholder landed in the payload, invokes
 * the function, then waits for SendTaskSuccess / SendTaskFailure / the state's timeouts.
 *
 * This file runs the executions and keeps their records (sfn-execution-store.ts across restarts).
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { RunOptions } from 'aws-local-stepfunctions';
import { LOCAL_ACCOUNT_ID, localExecutionArn } from './constants';
import { closeServer, listen } from './http-util';
import { ExecutionStore } from './sfn-execution-store';
import { compileMachine, failureOf, taskHandlers, toTaskError, type Machine } from './sfn-machines';
import {
  SfnApiError,
  type ExecutionRecord,
  type ExecutionStatus,
  type PendingTask,
  type StateMachineInfo,
  type StepFunctionsOptions,
} from './sfn-model';
import { sfnRequestListener, type SfnOperations } from './sfn-protocol';
import { TaskTokens } from './sfn-task-tokens';

interface Running {
  record: ExecutionRecord;
  finished: boolean;
  abort?: () => void;
  placeholder: string;
  done: Promise<ExecutionRecord>;
  finish: (record: ExecutionRecord) => void;
}

const EXECUTION_NAME = /^[A-Za-z0-9_-]{1,80}$/;

export class LocalStepFunctions extends EventEmitter implements SfnOperations {
  url = '';
  port = 0;
  private readonly server: http.Server;
  private readonly machines = new Map<string, Machine>();
  private readonly executions = new Map<string, Running>();
  private readonly tokens: TaskTokens;
  private readonly store: ExecutionStore | undefined;
  private closed = false;

  constructor(private readonly opts: StepFunctionsOptions) {
    super();
    for (const sm of opts.stateMachines) {
      const machine = compileMachine(sm.name, sm.definition, opts);
      this.machines.set(machine.arn, machine);
    }
    this.tokens = new TaskTokens(opts.invokeFunction, (task) => this.emit('task-token', task));
    this.store = opts.stateFile ? new ExecutionStore(opts.stateFile, opts.log) : undefined;
    this.server = http.createServer(sfnRequestListener(this));
  }

  async start(): Promise<this> {
    await this.load();
    this.port = await listen(this.server, this.opts.port ?? 0);
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
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

  describeExecution(executionArn: unknown): ExecutionRecord {
    return { ...this.running(executionArn).record };
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
    this.tokens.succeed(taskToken, output);
  }

  sendTaskFailure(taskToken: unknown, error?: unknown, cause?: unknown): void {
    this.tokens.fail(taskToken, error, cause);
  }

  sendTaskHeartbeat(taskToken: unknown): void {
    this.tokens.heartbeat(taskToken);
  }

  listExecutions(stateMachineArn?: string, statusFilter?: ExecutionStatus): ExecutionRecord[] {
    return [...this.executions.values()]
      .map((r) => r.record)
      .filter((r) => (stateMachineArn ? r.stateMachineArn === stateMachineArn : true))
      .filter((r) => (statusFilter ? r.status === statusFilter : true))
      .sort((a, b) => b.startDate.getTime() - a.startDate.getTime())
      .map((r) => ({ ...r }));
  }

  describeStateMachine(stateMachineArn: string): StateMachineInfo | undefined {
    const machine = this.machines.get(stateMachineArn);
    return machine && stateMachineInfo(machine);
  }

  listStateMachines(): StateMachineInfo[] {
    return [...this.machines.values()].map(stateMachineInfo);
  }

  /** Resolves when the execution is no longer RUNNING. */
  waitForExecution(executionArn: string): Promise<ExecutionRecord> {
    return this.running(executionArn).done.then((r) => ({ ...r }));
  }

  /** Tasks waiting for SendTaskSuccess/Failure (optionally of one execution). */
  pendingTasks(executionArn?: string): PendingTask[] {
    return this.tokens.pending(executionArn);
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
    await this.store?.flushed();
  }

  // ---------------------------------------------------------------- executions

  private launch(machine: Machine, run: Running, input: unknown): void {
    const { record } = run;
    const handlers = taskHandlers(machine, {
      invoke: (functionRef, payload) => this.invokeForTask(functionRef, payload),
      awaitToken: (stateName, state, functionName, payload) =>
        this.tokens.await(record.executionArn, run.placeholder, stateName, state, functionName, payload),
    });
    const options: RunOptions = {
      overrides: {
        taskResourceLocalHandlers: handlers as never,
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

  private async invokeForTask(functionRef: string, payload: unknown): Promise<unknown> {
    try {
      return await this.opts.invokeFunction(functionRef, payload);
    } catch (err) {
      throw toTaskError(err);
    }
  }

  private finish(run: Running, outcome: Partial<ExecutionRecord>): void {
    if (run.finished) return;
    run.finished = true;
    const { record } = run;
    Object.assign(record, outcome, { stopDate: new Date() });
    // Tokens of tasks still waiting (an abort, a failed Parallel branch) are retired.
    this.tokens.retireExecution(record.executionArn);
    this.opts.log?.(
      `execution ${record.status.toLowerCase()} ${record.executionArn}${record.error ? ` (${record.error})` : ''}`,
    );
    run.finish(record);
    this.save();
    this.emit('execution-finished', { ...record });
  }

  private running(executionArn: unknown): Running {
    if (typeof executionArn !== 'string' || !executionArn.startsWith('arn:')) {
      throw new SfnApiError('InvalidArn', `Invalid Arn: '${String(executionArn)}'`);
    }
    const run = this.executions.get(executionArn);
    if (!run) throw new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return run;
  }

  // ---------------------------------------------------------------- persistence

  private save(): void {
    this.store?.save([...this.executions.values()].map((r) => r.record));
  }

  private async load(): Promise<void> {
    if (!this.store) return;
    for (const record of await this.store.load((arn) => this.machines.has(arn))) {
      this.executions.set(record.executionArn, {
        record,
        finished: true,
        placeholder: '',
        done: Promise.resolve(record),
        finish: () => undefined,
      });
    }
  }
}

export async function startStepFunctions(opts: StepFunctionsOptions): Promise<LocalStepFunctions> {
  return new LocalStepFunctions(opts).start();
}

function stateMachineInfo(m: Machine): StateMachineInfo {
  return { name: m.name, arn: m.arn, definition: m.definition, createdAt: m.createdAt };
}
