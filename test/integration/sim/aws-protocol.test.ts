import { DescribeInstancesCommand, DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';

import { useSimEnv } from '../../helpers/aws-sim';
import { ec2Client } from '../../helpers/aws-sim-env';

const env = useSimEnv();

async function post(body: string) {
  const res = await fetch(env.sim.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  return { status: res.status, xml: new XMLParser().parse(await res.text()) as Record<string, unknown> };
}

describe('AWS simulator: EC2 Query protocol and faults', () => {
  it('answers an unknown action with InvalidAction in the EC2 error shape', async () => {
    // Act
    const r = await post('Action=LaunchRocket&Version=2016-11-15');

    // Assess
    expect(r.status).toBe(400);
    expect(r.xml).toMatchObject({
      Response: {
        Errors: {
          Error: {
            Code: 'InvalidAction',
            Message: 'The action LaunchRocket is not valid for this web service.',
          },
        },
      },
    });
    expect(env.sim.calls.at(-1)).toMatchObject({ action: 'LaunchRocket', error: 'InvalidAction' });
  });

  it('answers in the 2016-11-15 namespace with a requestId', async () => {
    // Act
    const r = await post('Action=DescribeInstances&Version=2016-11-15');

    // Assess
    expect(r.status).toBe(200);
    const body = r.xml['DescribeInstancesResponse'] as Record<string, unknown>;
    expect(typeof body['requestId']).toBe('string');
    expect(body).toHaveProperty('reservationSet');
  });

  it('answers DryRun with DryRunOperation', async () => {
    await expect(env.ec2.send(new DescribeInstancesCommand({ DryRun: true }))).rejects.toMatchObject({
      name: 'DryRunOperation',
      $metadata: { httpStatusCode: 412 },
    });
  });

  it('throttles the next N calls with RequestLimitExceeded (503), which the SDK surfaces without retries', async () => {
    // Prepare
    const once = ec2Client(env.sim.url, 1);
    env.sim.setFaults({ throttle: { actions: ['DescribeInstances'], count: 1 } });

    // Act
    const throttled = await once.send(new DescribeInstancesCommand({})).catch((e: unknown) => e);
    const other = await once.send(new DescribeSnapshotsCommand({}));
    const after = await once.send(new DescribeInstancesCommand({}));
    once.destroy();

    // Assess
    expect(throttled).toMatchObject({ name: 'RequestLimitExceeded', $metadata: { httpStatusCode: 503 } });
    expect(other.Snapshots).toEqual([]);
    expect(after.Reservations).toEqual([]);
  });

  it('lets the SDK retry through throttling, and the call log shows the retries', async () => {
    // Prepare
    env.sim.setFaults({ throttle: { actions: ['DescribeSnapshots'], count: 2 } });
    const from = env.sim.calls.length;

    // Act
    const out = await env.ec2.send(new DescribeSnapshotsCommand({}));

    // Assess
    expect(out.$metadata.attempts).toBe(3);
    expect(env.sim.calls.slice(from).map((c) => c.error ?? 'ok')).toEqual([
      'RequestLimitExceeded',
      'RequestLimitExceeded',
      'ok',
    ]);
  });

  it('injects InternalError (500) and Unavailable (503)', async () => {
    // Prepare
    const once = ec2Client(env.sim.url, 1);

    // Act
    env.sim.setFaults({ serverError: { count: 1 } });
    const internal = await once.send(new DescribeInstancesCommand({})).catch((e: unknown) => e);
    env.sim.setFaults({ serverError: { count: 1, code: 'Unavailable' } });
    const unavailable = await once.send(new DescribeInstancesCommand({})).catch((e: unknown) => e);
    env.sim.setFaults({ serverError: { rate: 1, actions: ['DescribeImages'] } });
    const unaffected = await once.send(new DescribeInstancesCommand({}));
    env.sim.setFaults({});
    once.destroy();

    // Assess
    expect(internal).toMatchObject({ name: 'InternalError', $metadata: { httpStatusCode: 500 } });
    expect(unavailable).toMatchObject({ name: 'Unavailable', $metadata: { httpStatusCode: 503 } });
    expect(unaffected.Reservations).toEqual([]);
  });

  it('still answers correctly with injected latency', async () => {
    // Prepare
    env.sim.setFaults({ latencyMs: 30 });

    // Act
    const out = await env.ec2.send(new DescribeInstancesCommand({}));
    env.sim.setFaults({});

    // Assess
    expect(out.Reservations).toEqual([]);
    expect(env.sim.calls.at(-1)).toMatchObject({ action: 'DescribeInstances' });
    expect(env.sim.calls.at(-1)?.error).toBeUndefined();
  });
});
