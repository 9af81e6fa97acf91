/**
 * What the local Step Functions service is made of: its options, execution records, the tasks
 * waiting for a token, and the two errors (the API's and the one a failed task reports).
 */
import type { AslDefinition } from './asl';

/** The largest delay `setTimeout` honours (2^31-1 ms), in whole seconds. */
export const MAX_TIMER_SECONDS = 2_147_483;

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

/** A state machine as DescribeStateMachine and ListStateMachines show it. */
export interface StateMachineInfo {
  name: string;
  arn: string;
  definition: AslDefinition;
  createdAt: Date;
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
