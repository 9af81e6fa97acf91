import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AslDefinition } from '../../../infra/local/asl';
import { LambdaHost } from '../../../infra/local/lambda-host';
import { startStepFunctions, type LocalStepFunctions } from '../../../infra/local/step-functions';
import { localDeps } from './fixtures/deps';

const fnArn = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;
const smArn = (name: string) => `arn:aws:states:us-east-1:000000000000:stateMachine:${name}`;

/** Approve an order: greet, wait an hour (overridden), wait for a human via a task token. */
const APPROVAL: AslDefinition = {
  StartAt: 'Greet',
  States: {
    Greet: { Type: 'Task', Resource: fnArn('Greet'), ResultPath: '$.greeting', Next: 'WaitAnHour' },
    WaitAnHour: { Type: 'Wait', Seconds: 3600, Next: 'AwaitApproval' },
    AwaitApproval: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: {
        FunctionName: fnArn('Notify'),
        Payload: {
          'orderId.$': '$.orderId',
          'taskToken.$': '$$.Task.Token',
          'execution.$': '$$.Execution.Id',
        },
      },
      TimeoutSeconds: 86400,
      ResultPath: '$.approval',
      Catch: [{ ErrorEquals: ['Rejected'], ResultPath: '$.rejection', Next: 'Rejected' }],
      Next: 'Done',
    },
    Rejected: { Type: 'Fail', ErrorPath: '$.rejection.Error', CausePath: '$.rejection.Cause' },
    Done: { Type: 'Succeed' },
  },
};

/** Retries a throttled call with a 60 s interval (overridden), then fails unhandled on BadInput. */
const FLAKY: AslDefinition = {
  StartAt: 'CallCloud',
  States: {
    CallCloud: {
      Type: 'Task',
      Resource: fnArn('Flaky'),
      Retry: [{ ErrorEquals: ['CloudThrottled'], IntervalSeconds: 60, MaxAttempts: 3, BackoffRate: 2 }],
      End: true,
    },
  },
};

/** A token task that times out after one second and a Catch on States.Timeout. */
const IMPATIENT: AslDefinition = {
  StartAt: 'AwaitUpload',
  States: {
    AwaitUpload: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: { FunctionName: fnArn('Notify'), Payload: { 'taskToken.$': '$$.Task.Token' } },
      TimeoutSeconds: 1,
      Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: '$.timeout', Next: 'GaveUp' }],
      End: true,
    },
    GaveUp: { Type: 'Pass', Result: 'gave up', ResultPath: '$.outcome', End: true },
  },
};

/** A token task that must hear a heartbeat every second. */
const HEARTBEAT: AslDefinition = {
  StartAt: 'AwaitWorker',
  States: {
    AwaitWorker: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: { FunctionName: fnArn('Notify'), Payload: { 'taskToken.$': '$$.Task.Token' } },
      HeartbeatSeconds: 1,
      TimeoutSeconds: 3600,
      Catch: [{ ErrorEquals: ['States.HeartbeatTimeout'], ResultPath: '$.silence', Next: 'WorkerGone' }],
      End: true,
    },
    WorkerGone: { Type: 'Pass', Result: 'worker gone', ResultPath: '$.outcome', End: true },
  },
};

let sfn: LocalStepFunctions;
let client: SFNClient;
const notified: Array<{ orderId?: string; taskToken: string; execution?: string }> = [];
const tokenWaiters: Array<(t: { taskToken: string; execution?: string }) => void> = [];
let flakyCalls = 0;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

/** Resolves with the next task token the Notify function receives. */
function nextToken(): Promise<{ taskToken: string; execution?: string }> {
  return new Promise((resolve) => tokenWaiters.push(resolve));
}

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  const host = new LambdaHost({ deps: localDeps() });
  host.register('Greet', async (event) => `hello ${(event as { orderId: string }).orderId}`);
  host.register('Notify', async (event) => {
    const e = event as { orderId?: string; taskToken: string; execution?: string };
    notified.push(e);
    tokenWaiters.shift()?.(e);
    return { notified: true };
  });
  host.register('Flaky', async (event) => {
    flakyCalls++;
    const mode = (event as { mode: string }).mode;
    const err = new Error(mode === 'bad' ? 'input is bad' : 'slow down');
    err.name = mode === 'bad' ? 'BadInput' : 'CloudThrottled';
    if (mode === 'bad' || flakyCalls < 3) throw err;
    return { calls: flakyCalls };
  });
  sfn = await startStepFunctions({
    stateMachines: [
      { name: 'approval', definition: APPROVAL },
      { name: 'flaky', definition: FLAKY },
      { name: 'impatient', definition: IMPATIENT },
      { name: 'heartbeat', definition: HEARTBEAT },
    ],
    invokeFunction: (ref, payload) => host.invoke(ref, payload),
    waitTimeOverrides: 5,
    retryIntervalOverrides: 5,
  });
  client = new SFNClient({
    region: 'us-east-1',
    endpoint: sfn.url,
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  client?.destroy();
  await sfn?.close();
  process.off('unhandledRejection', onUnhandled);
});

const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: { name: string; message: string }) => e,
  );

describe('local Step Functions over the real SFN client', () => {
  it('runs an execution through Task, overridden Wait and a task token answered with SendTaskSuccess', async () => {
    // Prepare
    const token = nextToken();
    // Act
    const started = await client.send(
      new StartExecutionCommand({
        stateMachineArn: smArn('approval'),
        name: 'order-1',
        input: '{"orderId":"o-1"}',
      }),
    );
    const { taskToken, execution } = await token;
    const running = await client.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    await client.send(new SendTaskHeartbeatCommand({ taskToken }));
    await client.send(new SendTaskSuccessCommand({ taskToken, output: '{"approvedBy":"ana"}' }));
    await sfn.waitForExecution(started.executionArn!);
    const done = await client.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    // Assess
    expect(started.executionArn).toBe('arn:aws:states:us-east-1:000000000000:execution:approval:order-1');
    expect(started.startDate).toBeInstanceOf(Date);
    expect(execution).toBe(started.executionArn);
    expect(taskToken).toMatch(/^AQ[A-Za-z0-9_-]{100,}$/);
    expect(running.status).toBe('RUNNING');
    expect(done.status).toBe('SUCCEEDED');
    expect(done.stopDate).toBeInstanceOf(Date);
    expect(JSON.parse(done.input!)).toEqual({ orderId: 'o-1' });
    expect(JSON.parse(done.output!)).toEqual({
      orderId: 'o-1',
      greeting: 'hello o-1',
      approval: { approvedBy: 'ana' },
    });
  });

  it('fails the token task with the error named in SendTaskFailure, which Catch matches', async () => {
    // Prepare
    const token = nextToken();
    const { executionArn } = await client.send(
      new StartExecutionCommand({ stateMachineArn: smArn('approval'), input: '{"orderId":"o-2"}' }),
    );
    const { taskToken } = await token;
    // Act
    await client.send(new SendTaskFailureCommand({ taskToken, error: 'Rejected', cause: 'too expensive' }));
    await sfn.waitForExecution(executionArn!);
    const out = await client.send(new DescribeExecutionCommand({ executionArn }));
    const reused = await errorOf(client.send(new SendTaskSuccessCommand({ taskToken, output: '{}' })));
    // Assess
    expect(out).toMatchObject({ status: 'FAILED', error: 'Rejected', cause: 'too expensive' });
    expect(reused).toMatchObject({ name: 'TaskTimedOut' });
  });

  it('answers InvalidToken for a token it never issued and InvalidOutput for output that is not JSON', async () => {
    // Prepare
    const token = nextToken();
    const { executionArn } = await client.send(
      new StartExecutionCommand({ stateMachineArn: smArn('approval'), input: '{"orderId":"o-3"}' }),
    );
    const { taskToken } = await token;
    // Act
    const invalid = await errorOf(
      client.send(new SendTaskSuccessCommand({ taskToken: 'AQnot-a-token', output: '{}' })),
    );
    const badOutput = await errorOf(
      client.send(new SendTaskSuccessCommand({ taskToken, output: 'not json' })),
    );
    await client.send(
      new StopExecutionCommand({ executionArn, error: 'Test.Cleanup', cause: 'done with it' }),
    );
    // Assess
    expect(invalid).toMatchObject({ name: 'InvalidToken' });
    expect(badOutput).toMatchObject({ name: 'InvalidOutput' });
  });

  it('stops a running execution: ABORTED with the given error, and its token is retired', async () => {
    // Prepare
    const token = nextToken();
    const { executionArn } = await client.send(
      new StartExecutionCommand({ stateMachineArn: smArn('approval'), input: '{"orderId":"o-4"}' }),
    );
    const { taskToken } = await token;
    // Act
    const stopped = await client.send(
      new StopExecutionCommand({ executionArn, error: 'User.Cancelled', cause: 'DELETE' }),
    );
    const out = await client.send(new DescribeExecutionCommand({ executionArn }));
    const late = await errorOf(client.send(new SendTaskSuccessCommand({ taskToken, output: '{}' })));
    // Assess
    expect(stopped.stopDate).toBeInstanceOf(Date);
    expect(out).toMatchObject({ status: 'ABORTED', error: 'User.Cancelled', cause: 'DELETE' });
    expect(late).toMatchObject({ name: 'TaskTimedOut' });
    expect(sfn.pendingTasks(executionArn)).toEqual([]);
  });

  it('keeps execution names unique per state machine, idempotent for the same running input', async () => {
    // Prepare
    const token = nextToken();
    const input = '{"orderId":"o-5"}';
    const first = await client.send(
      new StartExecutionCommand({ stateMachineArn: smArn('approval'), name: 'dup', input }),
    );
    const { taskToken } = await token;
    // Act
    const again = await client.send(
      new StartExecutionCommand({ stateMachineArn: smArn('approval'), name: 'dup', input }),
    );
    const different = await errorOf(
      client.send(
        new StartExecutionCommand({
          stateMachineArn: smArn('approval'),
          name: 'dup',
          input: '{"orderId":"x"}',
        }),
      ),
    );
    await client.send(new SendTaskSuccessCommand({ taskToken, output: '{}' }));
    await sfn.waitForExecution(first.executionArn!);
    const afterwards = await errorOf(
      client.send(new StartExecutionCommand({ stateMachineArn: smArn('approval'), name: 'dup', input })),
    );
    const otherMachine = await client.send(
      new StartExecutionCommand({ stateMachineArn: smArn('flaky'), name: 'dup', input: '{"mode":"bad"}' }),
    );
    // Assess
    expect(again.executionArn).toBe(first.executionArn);
    expect(different).toMatchObject({ name: 'ExecutionAlreadyExists' });
    expect(afterwards).toMatchObject({ name: 'ExecutionAlreadyExists' });
    expect(otherMachine.executionArn).toBe('arn:aws:states:us-east-1:000000000000:execution:flaky:dup');
  });

  it('answers StateMachineDoesNotExist, ExecutionDoesNotExist and InvalidExecutionInput like AWS', async () => {
    // Act
    const noMachine = await errorOf(
      client.send(new StartExecutionCommand({ stateMachineArn: smArn('nope') })),
    );
    const noExecution = await errorOf(
      client.send(
        new DescribeExecutionCommand({
          executionArn: 'arn:aws:states:us-east-1:000000000000:execution:flaky:nope',
        }),
      ),
    );
    const badInput = await errorOf(
      client.send(new StartExecutionCommand({ stateMachineArn: smArn('flaky'), input: '{' })),
    );
    // Assess
    expect(noMachine).toMatchObject({ name: 'StateMachineDoesNotExist' });
    expect(noExecution).toMatchObject({ name: 'ExecutionDoesNotExist' });
    expect(badInput).toMatchObject({ name: 'InvalidExecutionInput' });
  });

  it('retries on the error name the function threw (intervals overridden), and fails with it when unhandled', async () => {
    // Prepare
    flakyCalls = 0;
    // Act
    const ok = await client.send(
      new StartExecutionCommand({ stateMachineArn: smArn('flaky'), input: '{"mode":"throttle"}' }),
    );
    const okDone = await sfn.waitForExecution(ok.executionArn!);
    const bad = await client.send(
      new StartExecutionCommand({ stateMachineArn: smArn('flaky'), input: '{"mode":"bad"}' }),
    );
    const badDone = await sfn.waitForExecution(bad.executionArn!);
    const listed = await client.send(
      new ListExecutionsCommand({ stateMachineArn: smArn('flaky'), statusFilter: 'FAILED' }),
    );
    // Assess
    expect(okDone.status).toBe('SUCCEEDED');
    expect(JSON.parse(okDone.output!)).toEqual({ calls: 3 });
    expect(badDone.status).toBe('FAILED');
    expect(badDone.error).toBe('BadInput');
    expect(JSON.parse(badDone.cause!)).toMatchObject({ errorType: 'BadInput', errorMessage: 'input is bad' });
    expect(listed.executions?.map((e) => e.executionArn)).toContain(bad.executionArn);
    expect(listed.executions?.map((e) => e.executionArn)).not.toContain(ok.executionArn);
  });

  it("honours a token task's TimeoutSeconds with States.Timeout, then treats the token as timed out", async () => {
    // Prepare
    const token = nextToken();
    // Act
    const { executionArn } = await client.send(
      new StartExecutionCommand({ stateMachineArn: smArn('impatient') }),
    );
    const { taskToken } = await token;
    const done = await sfn.waitForExecution(executionArn!);
    const late = await errorOf(client.send(new SendTaskSuccessCommand({ taskToken, output: '{}' })));
    // Assess
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!)).toMatchObject({
      outcome: 'gave up',
      timeout: { Error: 'States.Timeout' },
    });
    expect(late).toMatchObject({ name: 'TaskTimedOut' });
  });

  it('fails a token task with States.HeartbeatTimeout when no heartbeat comes within HeartbeatSeconds', async () => {
    // Prepare
    const token = nextToken();
    // Act
    const { executionArn } = await client.send(
      new StartExecutionCommand({ stateMachineArn: smArn('heartbeat') }),
    );
    const { taskToken } = await token;
    const done = await sfn.waitForExecution(executionArn!);
    const late = await errorOf(client.send(new SendTaskHeartbeatCommand({ taskToken })));
    // Assess
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!)).toMatchObject({
      outcome: 'worker gone',
      silence: { Error: 'States.HeartbeatTimeout' },
    });
    expect(late).toMatchObject({ name: 'TaskTimedOut' });
  });

  it('overrides named Wait states and falls back to defaultWaitMs for the others', async () => {
    // Prepare
    const local = await startStepFunctions({
      stateMachines: [
        {
          name: 'two-waits',
          definition: {
            StartAt: 'WaitForImport',
            States: {
              WaitForImport: { Type: 'Wait', Seconds: 3600, Next: 'WaitForInstance' },
              WaitForInstance: { Type: 'Wait', Seconds: 3600, End: true },
            },
          },
        },
      ],
      invokeFunction: async () => null,
      waitTimeOverrides: { WaitForImport: 1 },
      defaultWaitMs: 1,
    });
    try {
      // Act
      const { executionArn } = local.startExecution({
        stateMachineArn: smArn('two-waits'),
        input: '{"n":1}',
      });
      const done = await local.waitForExecution(executionArn);
      // Assess
      expect(done).toMatchObject({ status: 'SUCCEEDED', output: '{"n":1}' });
    } finally {
      await local.close();
    }
  });

  it('never lets a failed execution reject unhandled', () => {
    // Assess (every execution above has ended by now, several of them failed or aborted)
    expect(sfn.listExecutions().filter((e) => e.status === 'RUNNING')).toEqual([]);
    expect(unhandled).toEqual([]);
  });
});

describe('execution records across restarts', () => {
  it('keeps finished executions, ends running ones ABORTED, and keeps their names taken', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'bg-sfn-state-'));
    const stateFile = join(dir, 'executions.json');
    const machines = [
      {
        name: 'quick',
        definition: { StartAt: 'Done', States: { Done: { Type: 'Succeed' } } } as AslDefinition,
      },
      {
        name: 'waits',
        definition: {
          StartAt: 'Token',
          States: {
            Token: {
              Type: 'Task',
              Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
              Parameters: { FunctionName: fnArn('Nobody'), Payload: { 'token.$': '$$.Task.Token' } },
              End: true,
            },
          },
        } as AslDefinition,
      },
    ];
    const start = () =>
      startStepFunctions({ stateMachines: machines, invokeFunction: async () => null, stateFile });
    try {
      const first = await start();
      const quick = first.startExecution({ stateMachineArn: smArn('quick'), name: 'q1', input: '{"a":1}' });
      await first.waitForExecution(quick.executionArn);
      const waiting = first.startExecution({ stateMachineArn: smArn('waits'), name: 'w1' });
      await first.close();
      // a crash leaves a RUNNING record behind
      const saved = JSON.parse(await readFile(stateFile, 'utf8')) as {
        executions: Array<Record<string, unknown>>;
      };
      saved.executions.push({
        ...saved.executions[0],
        name: 'crashed',
        executionArn: `${quick.executionArn}-crashed`,
        status: 'RUNNING',
      });
      await writeFile(stateFile, JSON.stringify(saved));
      // Act
      const second = await start();
      const q1 = second.describeExecution(quick.executionArn);
      const w1 = second.describeExecution(waiting.executionArn);
      const crashed = second.describeExecution(`${quick.executionArn}-crashed`);
      const reuse = (() => {
        try {
          second.startExecution({ stateMachineArn: smArn('quick'), name: 'q1', input: '{"a":1}' });
          return undefined;
        } catch (err) {
          return (err as Error).name;
        }
      })();
      await second.close();
      // Assess
      expect(q1).toMatchObject({ status: 'SUCCEEDED', output: '{"a":1}' });
      expect(q1.startDate).toBeInstanceOf(Date);
      expect(w1).toMatchObject({ status: 'ABORTED', error: 'Local.Shutdown' });
      expect(crashed).toMatchObject({ status: 'ABORTED', error: 'Local.Restarted' });
      expect(reuse).toBe('ExecutionAlreadyExists');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
