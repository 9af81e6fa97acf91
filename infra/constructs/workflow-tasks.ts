/**
 * The Task and Wait states the workflows are made of: how a step function is called (by ARN,
 * `{ jobId, ...}`, the standard Retry), a Map over a range plan, a task-token wait, and the
 * fixed waits between polls.
 */
import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import type { GatewayFunction } from './gateway-function';

/** Errors every Task retries: our handlers' transient cloud errors and Lambda's own. */
export const RETRY_ERRORS = [
  'CloudThrottled',
  'CloudUnavailable',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
] as const;

export const RETRY: sfn.RetryProps = {
  errors: [...RETRY_ERRORS],
  interval: Duration.seconds(2),
  maxAttempts: 6,
  backoffRate: 2,
  jitterStrategy: sfn.JitterType.FULL,
};

/** Wait durations; tests and the embedded runner override them by state name. */
export const WAIT_SECONDS = {
  WaitForImport: 30,
  WaitForInstance: 10,
  WaitForStop: 10,
  WaitForExport: 30,
  WaitForAzureVm: 15,
  WaitForAzureStop: 10,
  WaitForReturnSnapshot: 15,
  WaitForSnapshot: 15,
} as const;

/**
 * A Map state running one step function per range of a plan (`itemsPath`), each called with
 * `{ jobId, range }`; the results, in order, go to `resultPath`.
 */
export function rangeMap(
  scope: Construct,
  stateName: string,
  opts: {
    itemsPath: string;
    maxConcurrency: number;
    resultPath: string;
    itemState: string;
    fn: GatewayFunction;
  },
): sfn.Map {
  const map = new sfn.Map(scope, stateName, {
    itemsPath: opts.itemsPath,
    itemSelector: {
      jobId: sfn.JsonPath.stringAt('$.jobId'),
      range: sfn.JsonPath.objectAt('$$.Map.Item.Value'),
    },
    maxConcurrency: opts.maxConcurrency,
    resultPath: opts.resultPath,
  });
  map.itemProcessor(
    // No ResultPath: the item's result is the function's (AWS's default; aws-local-stepfunctions
    // would store an explicit "$" under a key named "$").
    invoke(scope, opts.itemState, opts.fn, undefined, { range: sfn.JsonPath.objectAt('$.range') }),
  );
  return map;
}

/** A Task that calls `fn` with `{ jobId, taskToken }` and waits until the token is sent back (or `timeout`). */
export function awaitTaskToken(
  scope: Construct,
  stateName: string,
  fn: GatewayFunction,
  resultPath: string,
  timeout: Duration,
): tasks.LambdaInvoke {
  const task = new tasks.LambdaInvoke(scope, stateName, {
    lambdaFunction: fn.fn,
    integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    payload: sfn.TaskInput.fromObject({
      jobId: sfn.JsonPath.stringAt('$.jobId'),
      taskToken: sfn.JsonPath.taskToken,
    }),
    resultPath,
    taskTimeout: sfn.Timeout.duration(timeout),
    retryOnServiceExceptions: false,
  });
  task.addRetry(RETRY);
  return task;
}

/** A Task calling one step function by ARN with `{ jobId, ...extra }`, with the standard Retry. */
export function invoke(
  scope: Construct,
  stateName: string,
  fn: GatewayFunction,
  resultPath: string | undefined,
  extra: Record<string, unknown> = {},
): tasks.LambdaInvoke {
  const task = new tasks.LambdaInvoke(scope, stateName, {
    lambdaFunction: fn.fn,
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
    payload: sfn.TaskInput.fromObject({ jobId: sfn.JsonPath.stringAt('$.jobId'), ...extra }),
    ...(resultPath !== undefined ? { resultPath } : {}),
  });
  task.addRetry(RETRY);
  return task;
}

/**
 * A workflow's failure path: the step that records the failure (and compensates), given the caught
 * error as `error`, then a Fail state. `guarded` sends every error of a task there (the error at
 * `$.error`).
 */
export function failurePath(
  scope: Construct,
  stateName: string,
  fn: GatewayFunction,
  fail: { stateName: string; error: string; cause: string },
): { guarded: <T extends sfn.TaskStateBase | sfn.Map>(task: T) => T } {
  const path = invoke(scope, stateName, fn, sfn.JsonPath.DISCARD, {
    error: sfn.JsonPath.objectAt('$.error'),
  }).next(new sfn.Fail(scope, fail.stateName, { error: fail.error, cause: fail.cause }));
  return {
    guarded: (task) => {
      task.addCatch(path, { errors: ['States.ALL'], resultPath: '$.error' });
      return task;
    },
  };
}

export function wait(scope: Construct, stateName: keyof typeof WAIT_SECONDS): sfn.Wait {
  return new sfn.Wait(scope, stateName, {
    time: sfn.WaitTime.duration(Duration.seconds(WAIT_SECONDS[stateName])),
  });
}
