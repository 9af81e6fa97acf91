/**
 * The simulator's wire behaviour: ARM's 401 without a valid bearer token, Entra ID's answer to a
 * wrong secret, long-running operations (Azure-AsyncOperation + Location, never Retry-After), fault
 * injection retried by the SDKs' own policies, and state kept across a restart with a stateDir.
 */
import { request } from 'node:https';

import { describe, expect, it } from 'vitest';

import { azureClients, FAST_POLL, RG, useAzureSim } from '../../helpers/azure-sim';
import {
  createUploadDisk,
  diskContent,
  fixedVhd,
  grantDiskSas,
  grantSnapshotSas,
  incrementalSnapshot,
  MiB,
  uploadedDisk,
} from '../../helpers/azure-sim-steps';

const env = useAzureSim();
const persisted = useAzureSim({ persist: true });

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function raw(
  ca: string,
  method: string,
  url: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, ca, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const diskUrl = (name: string) =>
  `${env.sim.url}/subscriptions/${env.sim.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/disks/${name}?api-version=2025-01-02`;

describe('azure simulator: authentication', () => {
  it('answers ARM without a bearer token with 401 AuthenticationFailed and a challenge, and a forged token with 401', async () => {
    // Act
    const none = await raw(env.sim.ca, 'GET', diskUrl('x'));
    const forged = await raw(env.sim.ca, 'GET', diskUrl('x'), { authorization: 'Bearer e30.forged' });

    // Assess
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body)).toEqual({
      error: {
        code: 'AuthenticationFailed',
        message: "Authentication failed. The 'Authorization' header is missing.",
      },
    });
    expect(String(none.headers['www-authenticate'])).toMatch(
      /^Bearer authorization_uri="https:\/\/127\.0\.0\.1:\d+\//,
    );
    expect(forged.status).toBe(401);
    expect(JSON.parse(forged.body).error.code).toBe('InvalidAuthenticationToken');
  });

  it('refuses a wrong client secret with Entra ID error AADSTS7000215', async () => {
    // Prepare
    const wrong = azureClients(env.sim, 'not-the-secret');

    // Act
    const attempt = wrong.compute.disks.get(RG, 'anything');

    // Assess
    await expect(attempt).rejects.toThrow(/AADSTS7000215/);
    expect(env.sim.calls.some((c) => c.action === 'Token' && c.status === 401)).toBe(true);
  });
});

describe('azure simulator: long-running operations', () => {
  it('answers a disk PUT with 201, Azure-AsyncOperation and Location, no Retry-After; the status goes InProgress → Succeeded', async () => {
    // Prepare
    const token = await env.credential.getToken('https://management.azure.com/.default');
    const auth = { authorization: `Bearer ${token.token}`, 'content-type': 'application/json' };
    const body = JSON.stringify({
      location: 'westeurope',
      properties: { creationData: { createOption: 'Upload', uploadSizeBytes: 20 * MiB + 512 } },
    });

    // Act
    const put = await raw(env.sim.ca, 'PUT', diskUrl('lro-raw'), auth, body);
    const statusUrl = String(put.headers['azure-asyncoperation']);
    const first = JSON.parse((await raw(env.sim.ca, 'GET', statusUrl, auth)).body) as { status: string };
    const firstResult = await raw(env.sim.ca, 'GET', String(put.headers.location), auth);
    let last = first;
    for (let i = 0; i < 200 && last.status === 'InProgress'; i++) {
      await new Promise((r) => setTimeout(r, 10));
      last = JSON.parse((await raw(env.sim.ca, 'GET', statusUrl, auth)).body) as { status: string };
    }

    // Assess
    expect(put.status).toBe(201);
    expect(statusUrl).toMatch(
      /\/providers\/Microsoft\.Compute\/locations\/westeurope\/operations\/[\w-]+\?api-version=2025-01-02$/,
    );
    expect(String(put.headers.location)).toContain('monitor=true');
    expect(put.headers['retry-after']).toBeUndefined();
    expect(JSON.parse(put.body).properties).toMatchObject({
      provisioningState: 'Updating',
      diskState: 'ReadyToUpload',
    });
    expect(first.status).toBe('InProgress');
    expect(firstResult.status).toBe(202);
    expect(firstResult.headers['retry-after']).toBeUndefined();
    expect(last.status).toBe('Succeeded');
    expect((await env.compute.disks.get(RG, 'lro-raw')).provisioningState).toBe('Succeeded');
    await env.compute.disks.delete(RG, 'lro-raw', FAST_POLL);
  });
});

describe('azure simulator: faults', () => {
  it('throttles with 429 TooManyRequests and Retry-After; the SDK retries to success', async () => {
    // Prepare
    await createUploadDisk(env, 'fault-throttle', 20 * MiB + 512);
    env.sim.setFaults({ throttle: { actions: ['Disks_Get'], count: 2 } });
    const before = env.sim.calls.length;

    // Act
    const disk = await env.compute.disks.get(RG, 'fault-throttle');

    // Assess
    const seen = env.sim.calls.slice(before).filter((c) => c.action === 'Disks_Get');
    expect(disk.diskState).toBe('ReadyToUpload');
    expect(seen.map((c) => c.error ?? c.status)).toEqual(['TooManyRequests', 'TooManyRequests', 200]);
    env.sim.setFaults({});
  });

  it('answers 500 InternalServerError on ARM and 503 ServerBusy on blob writes; both SDKs retry to success', async () => {
    // Prepare
    const vhd = await fixedVhd(diskContent(20 * MiB, [[0, 2 * MiB]]));
    env.sim.setFaults({ serverError: { actions: ['Disks_CreateOrUpdate'], count: 2 } });
    const before = env.sim.calls.length;

    // Act: the first two ARM calls fail with 500, then one page write is throttled
    const disk = await createUploadDisk(env, 'fault-5xx', vhd.length);
    const writeSas = await grantDiskSas(env, 'fault-5xx', 'Write');
    env.sim.setFaults({ throttle: { actions: ['PageBlob_UploadPages'], count: 1 } });
    await env.pageBlob(writeSas).uploadPages(vhd.subarray(0, 2 * MiB), 0, 2 * MiB);
    await env.pageBlob(writeSas).uploadPages(vhd.subarray(vhd.length - 512), vhd.length - 512, 512);
    env.sim.setFaults({});
    await env.compute.disks.revokeAccess(RG, 'fault-5xx', FAST_POLL);

    // Assess
    const failures = env.sim.calls.slice(before).filter((c) => c.error);
    expect(failures.map((c) => `${c.action}:${c.status}:${c.error}`)).toEqual([
      'Disks_CreateOrUpdate:500:InternalServerError',
      'Disks_CreateOrUpdate:500:InternalServerError',
      'PageBlob_UploadPages:503:ServerBusy',
    ]);
    expect((await env.compute.disks.get(RG, 'fault-5xx')).diskState).toBe('Unattached');
    expect((await env.sim.readDisk(disk.id!)).equals(vhd)).toBe(true);
  });
});

describe('azure simulator: restart with a stateDir', () => {
  it('keeps disks, snapshots, their bytes and granted SAS URLs across a restart', async () => {
    // Prepare
    const vhd = await fixedVhd(diskContent(20 * MiB, [[3 * MiB, 1 * MiB]]));
    const disk = await uploadedDisk(persisted, 'keep-os', vhd);
    await incrementalSnapshot(persisted, 'keep-snap', disk.id!);
    const readSas = await grantSnapshotSas(persisted, 'keep-snap');

    // Act
    await persisted.restart();

    // Assess
    expect(persisted.sim.resources().disks).toEqual([{ id: disk.id, state: 'Unattached' }]);
    expect(persisted.sim.resources().snapshots.map((s) => s.state)).toEqual(['ActiveSAS']);
    expect((await persisted.compute.disks.get(RG, 'keep-os')).diskState).toBe('Unattached');
    expect((await persisted.sim.readDisk(disk.id!)).equals(vhd)).toBe(true);
    const again = await persisted.pageBlob(readSas).downloadToBuffer(3 * MiB, 1 * MiB);
    expect(again.equals(vhd.subarray(3 * MiB, 4 * MiB))).toBe(true);
  });
});
