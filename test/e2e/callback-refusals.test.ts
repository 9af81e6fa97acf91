/**
 * Callback URLs the gateway will not send to are refused when they are given, through the HTTP
 * API: a 400 naming `callbackUrl` and saying why, and nothing created. Every URL here is an IP
 * literal or carries credentials: no lookup, no packet.
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
    ['https://10.0.0.8/hook', 'RFC 1918'],
    ['https://192.168.1.1/hook', 'RFC 1918'],
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
    const patched = await callApi(gw, 'PATCH', '/schedules/fine', { callbackUrl: 'https://10.1.2.3/hook' });
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
      { path: 'callbackUrl', message: expect.stringContaining('RFC 1918') },
    ]);
    expect(after.body.callbackUrl).toBeUndefined();
    expect((listed.body.items as Array<{ name: string }>).map((s) => s.name)).toEqual(['fine']);
  });
});
