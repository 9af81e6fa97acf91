/**
 * What a deployment does not let its callers do, refused through the HTTP API before anything is
 * created: callback URLs aimed inward (a 400 naming `callbackUrl`; every URL here is an IP literal
 * or carries credentials: no lookup, no packet; the RFC 1918 ranges are refused by the same check,
 * proven without a socket in test/unit/domain/egress.test.ts), and targets outside its limits (a 400 naming
 * `target.instanceType`, `target.region`, `vms.0.target...`).
 */
import { stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_OVA } from '../../infra/local/demo';
import { AWS_TARGET, callApi, startTestGateway, type TestGateway } from '../helpers/embedded';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ azure: false });
}, 120_000);
afterAll(() => gw?.close());

describe('callback URLs aimed inward', () => {
  it.each([
    ['http://169.254.169.254/latest/meta-data/', 'link-local'],
    ['https://[fd00:ec2::254]/latest/meta-data/', 'unique-local'],
    ['https://100.64.0.1/hook', 'RFC 6598'],
    ['https://[::ffff:169.254.169.254]/', 'link-local'],
    ['https://ops:secret@8.8.8.8/hook', 'user name or password'],
    ['http://8.8.8.8/hook', 'plain http'],
  ])('POST /offloads with %s is a 400 naming callbackUrl, and makes no job', async (callbackUrl, why) => {
    // Prepare
    const size = (await stat(SAMPLE_OVA)).size;
    // Act
    const answer = await callApi(gw, 'POST', '/offloads', {
      vmName: 'refused-callback',
      imageFormat: 'ova',
      imageSizeBytes: size,
      target: AWS_TARGET,
      callbackUrl,
    });
    const listed = await callApi(gw, 'GET', '/offloads');
    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body.type).toBe('https://burstgate.dev/problems/validation-failed');
    expect(answer.body.errors).toEqual([{ path: 'callbackUrl', message: expect.stringContaining(why) }]);
    expect(JSON.stringify(answer.body)).not.toContain('secret');
    expect(listed.body.items).toEqual([]);
  });

  it('POST and PATCH /schedules refuse one too, and make or change nothing', async () => {
    // Prepare
    const body = {
      name: 'refused-callback',
      vms: [{ vmName: 'node-1', target: AWS_TARGET, source: 'upload' }],
      window: { cron: 'cron(0 18 ? * 6 *)', timeZone: 'Europe/Berlin' },
      duration: 'PT2H',
    };
    // Act
    const refused = await callApi(gw, 'POST', '/schedules', {
      ...body,
      callbackUrl: 'https://169.254.169.254/',
    });
    const made = await callApi(gw, 'POST', '/schedules', { ...body, name: 'fine' });
    const patched = await callApi(gw, 'PATCH', '/schedules/fine', { callbackUrl: 'https://100.64.1.2/hook' });
    const after = await callApi(gw, 'GET', '/schedules/fine');
    const listed = await callApi(gw, 'GET', '/schedules');
    // Assess
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([
      { path: 'callbackUrl', message: expect.stringContaining('link-local') },
    ]);
    expect(made.status).toBe(201);
    expect(patched.status).toBe(400);
    expect(patched.body.errors).toEqual([
      { path: 'callbackUrl', message: expect.stringContaining('RFC 6598') },
    ]);
    expect(after.body.callbackUrl).toBeUndefined();
    expect((listed.body.items as Array<{ name: string }>).map((s) => s.name)).toEqual(['fine']);
  });
});

describe("targets outside the deployment's limits", () => {
  it.each([
    [{ ...AWS_TARGET, instanceType: 'p5.48xlarge' }, 'target.instanceType'],
    [{ ...AWS_TARGET, region: 'us-gov-west-1' }, 'target.region'],
    [{ ...AWS_TARGET, region: 'cn-north-1', instanceType: 'p4d.24xlarge' }, 'target.region'],
  ])('POST /offloads to %j is a 400 naming %s, and makes no job', async (target, path) => {
    // Prepare
    const size = (await stat(SAMPLE_OVA)).size;
    // Act
    const answer = await callApi(gw, 'POST', '/offloads', {
      vmName: 'too-big',
      imageFormat: 'ova',
      imageSizeBytes: size,
      target,
    });
    const listed = await callApi(gw, 'GET', '/offloads');
    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body.errors).toEqual([{ path, message: expect.stringContaining('not an allowed') }]);
    expect(answer.body.detail).toContain('ask its operator to add it');
    expect(listed.body.items).toEqual([]);
  });

  it("POST /schedules with a VM outside the limits is a 400 naming the VM's target", async () => {
    // Act
    const answer = await callApi(gw, 'POST', '/schedules', {
      name: 'gpu-burst',
      vms: [{ vmName: 'node-1', target: { ...AWS_TARGET, instanceType: 'p5.48xlarge' }, source: 'upload' }],
      window: { cron: 'cron(0 18 ? * 6 *)', timeZone: 'Europe/Berlin' },
      duration: 'PT2H',
    });
    const listed = await callApi(gw, 'GET', '/schedules');
    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body.errors).toEqual([
      { path: 'vms.0.target.instanceType', message: expect.stringContaining('not an allowed') },
    ]);
    expect((listed.body.items as Array<{ name: string }>).map((s) => s.name)).not.toContain('gpu-burst');
  });
});
