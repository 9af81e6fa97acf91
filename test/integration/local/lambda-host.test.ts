import { describe, expect, it } from 'vitest';
import { LambdaHost } from '../../../infra/local/lambda-host';
import { localDeps } from './fixtures/deps';

const ECHO = 'test/integration/local/fixtures/handlers/echo.ts';

describe('LambdaHost', () => {
  it('imports the entry module once, builds the handler once with the deps, and gives a Lambda-like context', async () => {
    // Prepare
    const host = new LambdaHost({
      deps: localDeps(),
      functions: [{ name: 'FnEcho', entry: ECHO, timeoutSeconds: 30 }],
    });
    // Act
    const first = (await host.invoke('FnEcho', { n: 1, at: new Date(0) })) as Record<string, unknown>;
    const second = (await host.invoke('arn:aws:lambda:us-east-1:000000000000:function:FnEcho', {
      n: 2,
    })) as Record<string, unknown>;
    // Assess
    expect(first).toMatchObject({
      event: { n: 1, at: '1970-01-01T00:00:00.000Z' },
      created: 1,
      builtWith: 'burstgate-jobs',
    });
    expect(second).toMatchObject({ event: { n: 2 }, created: 1, functionName: 'FnEcho' });
    expect(first.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.awsRequestId).not.toBe(second.awsRequestId);
    expect(first.remainingMs).toBeGreaterThan(0);
    expect(first.remainingMs).toBeLessThanOrEqual(30_000);
  });

  it('lets errors through with their name, the way Step Functions sees errorType', async () => {
    // Prepare
    const host = new LambdaHost({
      deps: localDeps(),
      functions: [{ name: 'FnFail', entry: 'test/integration/local/fixtures/handlers/fail.ts' }],
    });
    // Act
    const err = (await host.invoke('FnFail', {}).catch((e: unknown) => e)) as Error;
    // Assess
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('CloudThrottled');
    expect(err.message).toBe('the cloud said slow down');
  });

  it('explains a missing function, a missing module and a module without createHandler', async () => {
    // Prepare
    const host = new LambdaHost({
      deps: localDeps(),
      functions: [
        { name: 'FnGone', entry: 'lambdas/does-not-exist.ts' },
        { name: 'FnOdd', entry: 'test/integration/local/fixtures/handlers/not-a-handler.ts' },
      ],
    });
    // Act
    const unknown = (await host.invoke('FnNope', {}).catch((e: unknown) => e)) as Error;
    const gone = (await host.invoke('FnGone', {}).catch((e: unknown) => e)) as Error;
    const odd = (await host.invoke('FnOdd', {}).catch((e: unknown) => e)) as Error;
    // Assess
    expect(unknown.name).toBe('ResourceNotFoundException');
    expect(gone.message).toMatch(/FnGone: entry module lambdas\/does-not-exist.ts does not exist/);
    expect(odd.message).toMatch(/FnOdd: .*not-a-handler.ts does not export createHandler\(deps\)/);
  });

  it('hosts handlers registered directly', async () => {
    // Prepare
    const host = new LambdaHost({ deps: localDeps() });
    host.register('Double', async (event) => ({ doubled: (event as { n: number }).n * 2 }));
    // Act
    const out = await host.invoke('Double', { n: 21 });
    // Assess
    expect(out).toEqual({ doubled: 42 });
    expect(host.names()).toEqual(['Double']);
  });
});
