/**
 * State machines on aws-local-stepfunctions: the synthesized ASL made runnable (AWS's timeouts, the
 * configured Wait/Retry overrides), the local handler of every Task state, and the library's
 * outcomes translated into what DescribeExecution reports.
 */
import { randomUUID } from 'node:crypto';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { deepClone, forEachState, taskKind, type AslDefinition, type AslState } from './asl';
import { localStateMachineArn } from './constants';
import { lambdaErrorPayload } from './lambda-host';
import {
  MAX_TIMER_SECONDS,
  TaskFailedError,
  type ExecutionRecord,
  type StateMachineInfo,
  type StepFunctionsOptions,
} from './sfn-model';

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

export interface Machine extends StateMachineInfo {
  runnable: StateMachine;
  waitOverrides: Record<string, number>;
  retryOverrides: Record<string, number | number[]>;
}

type OverrideOptions = Pick<
  StepFunctionsOptions,
  'waitTimeOverrides' | 'retryIntervalOverrides' | 'defaultWaitMs' | 'defaultRetryMs'
>;

/** Makes a definition runnable; throws when a Task state uses a resource that cannot run locally. */
export function compileMachine(name: string, definition: AslDefinition, opts: OverrideOptions): Machine {
  const arn = localStateMachineArn(name);
  const runnableDefinition = deepClone(definition);
  const waitOverrides: Record<string, number> = {};
  const retryOverrides: Record<string, number | number[]> = {};
  const { waitTimeOverrides: wait, retryIntervalOverrides: retry, defaultWaitMs, defaultRetryMs } = opts;
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
  return { name, arn, definition, runnable, createdAt: new Date(), waitOverrides, retryOverrides };
}

export interface TaskRunners {
  /** Runs a function for a Task state; rejects with the error the state reports. */
  invoke(functionRef: string, payload: unknown): Promise<unknown>;
  /** Runs a `lambda:invoke.waitForTaskToken` state: invokes the function, then waits for its token. */
  awaitToken(stateName: string, state: AslState, functionName: string, payload: unknown): Promise<unknown>;
}

/** Task handlers for one execution, keyed by state name (what the library's overrides take). */
export function taskHandlers(
  machine: Machine,
  runners: TaskRunners,
): Record<string, (input: unknown) => Promise<unknown>> {
  const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
  forEachState(machine.definition, (stateName, state) => {
    if (state.Type !== 'Task') return;
    const kind = taskKind(state);
    if (kind.kind === 'function') {
      handlers[stateName] = (input) => runners.invoke(kind.functionRef, input);
    } else if (kind.kind === 'lambda-invoke' && !kind.waitForTaskToken) {
      handlers[stateName] = async (input) => {
        const { FunctionName, Payload } = invokeParameters(input, stateName);
        const result = await runners.invoke(FunctionName, Payload);
        return {
          ExecutedVersion: '$LATEST',
          Payload: result,
          SdkHttpMetadata: { HttpStatusCode: 200 },
          SdkResponseMetadata: { RequestId: randomUUID() },
          StatusCode: 200,
        };
      };
    } else if (kind.kind === 'lambda-invoke') {
      handlers[stateName] = (input) => {
        const { FunctionName, Payload } = invokeParameters(input, stateName);
        return runners.awaitToken(stateName, state, FunctionName, Payload);
      };
    }
  });
  return handlers;
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
export function toTaskError(err: unknown): TaskFailedError {
  if (err instanceof Error && err.name === 'ResourceNotFoundException') {
    return new TaskFailedError('Lambda.ResourceNotFoundException', err.message);
  }
  const payload = lambdaErrorPayload(err);
  return new TaskFailedError(payload.errorType, JSON.stringify(payload));
}

/** How an execution the library ended with an error is reported. */
export function failureOf(err: unknown): Partial<ExecutionRecord> {
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
