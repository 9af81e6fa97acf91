/**
 * The CLI end to end against the embedded deployment with its Azure simulator: `burstgate offload
 * --cloud azure` until the VM runs, the guest changes its disk, `burstgate return --base <the
 * offloaded OVA>` rebuilds the changed disk from the delta the gateway publishes. And the gateway's
 * full-copy fallback (the base snapshot deleted in Azure): `burstgate return` without --base.
 * Everything through `main(argv, io)`, as a user would type it; results checked with qemu-img.
 */
import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayClient } from '../../../shared/client/api-client';
import { parseAzureResourceId } from '../../../shared/clouds/azure/azure-target';
import { gatewayAzureClients } from '../../helpers/azure-sim';
import { openBaseImage } from '../../../shared/images/base-image';
import { SAMPLE_OVA } from '../../../infra/local/demo';
import { cliAgainst } from '../../helpers/cli';
import { startTestGateway, type TestGateway } from '../../helpers/embedded';
import { qemuImg } from '../../helpers/images/fixtures';
import { useTmpDir } from '../../helpers/images/tmp-dir';
import { sha256 } from '../../helpers/bytes';

const MiB = 1024 * 1024;
const tmp = useTmpDir('bg-cli-azure-');
let gw: TestGateway;
let client: GatewayClient;
let original: Buffer;

beforeAll(async () => {
  gw = await startTestGateway();
  client = new GatewayClient({ baseUrl: gw.apiUrl, apiKey: gw.apiKey });
  const base = await openBaseImage(SAMPLE_OVA);
  original = await base.disk.read(0, base.disk.capacity);
  await base.close();
}, 120_000);
afterAll(() => gw?.close());

const cli = (args: string[]) => cliAgainst(gw)(args);

/** Offloads the sample VM to Azure with the CLI; returns the job id once it runs. */
async function offloadToAzure(vmName: string): Promise<string> {
  const r = await cli([
    'offload',
    SAMPLE_OVA,
    '--cloud',
    'azure',
    '--location',
    'westeurope',
    '--vm-size',
    'Standard_D2s_v5',
    '--name',
    vmName,
  ]);
  expect(r.stderr).not.toContain('burstgate:');
  expect(r.code).toBe(0);
  const id = /^(job-[0-9a-z]+): offloading/m.exec(r.stdout)?.[1];
  expect(id).toBeDefined();
  expect(r.stdout).toMatch(
    / is running in azure westeurope Standard_D2s_v5 \(resource group \S+\): VM \S+, disk \S+ \(steps took /,
  );
  expect(r.stdout).toContain(
    `bring it home with: burstgate return ${id!} --base ${SAMPLE_OVA} --out ${vmName}-returned.ova`,
  );
  return id!;
}

/** The guest writes a few MiB (the simulator writes the managed disk); returns the disk it makes. */
async function guestChanges(jobId: string): Promise<Buffer> {
  const job = await client.getOffload(jobId);
  const writes: Array<[number, Buffer]> = [
    [2 * MiB, randomBytes(64 * 1024)],
    [8 * MiB - 4096, randomBytes(2 * MiB + 8192)],
  ];
  for (const [offset, bytes] of writes) await gw.azureSim!.guestWrite(job.cloud.diskId!, offset, bytes);
  const expected = Buffer.from(original);
  for (const [offset, bytes] of writes) bytes.copy(expected, offset);
  return expected;
}

async function sameDisk(expected: Buffer, vmdk: string): Promise<void> {
  const raw = join(tmp.dir, `${basename(vmdk)}.expected.raw`);
  await writeFile(raw, expected);
  const r = await qemuImg('compare', '-f', 'raw', '-F', 'vmdk', raw, vmdk);
  expect(r.stdout + r.stderr).toContain('Images are identical');
  expect(r.code).toBe(0);
}

describe('burstgate CLI with the embedded Azure deployment', () => {
  it('offload --cloud azure, then return --base rebuilds the changed disk from the delta', async () => {
    // Prepare
    const id = await offloadToAzure('cli-azure');
    const expected = await guestChanges(id);
    const out = join(tmp.dir, 'cli-azure-back.vmdk');
    // Act
    const r = await cli(['return', id, '--base', SAMPLE_OVA, '--out', out]);
    // Assess
    expect(r.stderr).not.toContain('burstgate:');
    expect(r.code).toBe(0);
    await sameDisk(expected, out);
    expect(r.stdout).toContain(
      `base ${SAMPLE_OVA}: disk content sha256 ${sha256(original)} (the offloaded disk)`,
    );
    expect(r.stdout).toMatch(
      /^ {2}delta {9}[0-9.]+ (KiB|MiB) downloaded \(\d+ bytes\), sha256 [0-9a-f]{64} \(verified\)$/m,
    );
    expect(r.stdout).toContain(
      `  disk sha256   ${sha256(expected)} (verified: the disk the gateway returned)`,
    );
    expect(r.stdout).toContain('  original      the disk changed in the cloud');
    expect((await readdir(tmp.dir)).filter((f) => f.includes('cli-azure-back.vmdk'))).toEqual([
      'cli-azure-back.vmdk',
      'cli-azure-back.vmdk.expected.raw',
    ]);
  });

  it("rebuilds the gateway's full-copy fallback without --base (the base snapshot was deleted in Azure)", async () => {
    // Prepare: running on Azure, changed, and the base snapshot deleted with the Azure SDK
    const id = await offloadToAzure('cli-azure-full');
    const expected = await guestChanges(id);
    const sim = gw.azureSim!;
    const azure = gatewayAzureClients(sim);
    const snapshot = parseAzureResourceId((await client.getOffload(id)).cloud.baseSnapshotId!);
    await azure.compute.snapshots.delete(snapshot.resourceGroup, snapshot.name, { updateIntervalInMs: 10 });
    const out = join(tmp.dir, 'cli-azure-full.vmdk');
    // Act
    const r = await cli(['return', id, '--out', out]);
    // Assess
    expect(r.stderr).not.toContain('burstgate:');
    expect(r.code).toBe(0);
    await sameDisk(expected, out);
    expect(r.stdout).toContain(
      'to an empty disk (the gateway sent the whole disk: no base existed in the cloud)',
    );
  });
});
