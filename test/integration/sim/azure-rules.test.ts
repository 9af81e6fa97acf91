/**
 * The simulator is as strict as Azure documents: each rule answers with Azure's code, HTTP status and
 * wording, and changes nothing (the disk keeps its state, no resource appears, the blob keeps its bytes).
 */
import { buildFixedVhdFooter, buildVhdFooter } from '../../../shared/images';
import { beforeAll, describe, expect, it } from 'vitest';

import { FAST_POLL, RG, useAzureSim } from '../../helpers/azure-sim';
import {
  createUploadDisk,
  createVm,
  diskContent,
  fixedVhd,
  grantDiskSas,
  MiB,
  networkFor,
  uploadedDisk,
  uploadWithoutRevoke,
} from '../../helpers/azure-sim-steps';

const env = useAzureSim();
const SIZE = 20 * MiB + 512;
let vhd: Buffer;
let nicId: string;

beforeAll(async () => {
  vhd = await fixedVhd(diskContent(20 * MiB, [[0, 1 * MiB]]));
  nicId = (await networkFor(env, 'rules')).id!;
});

/** Waits for a call and returns its error (undefined if it succeeded), so several calls can run before the asserts. */
function failureOf(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => undefined,
    (e: unknown) => e,
  );
}

function withFooter(image: Buffer, footer: Buffer): Buffer {
  const out = Buffer.from(image);
  footer.copy(out, out.length - 512);
  return out;
}

describe('azure simulator: disk creation rules', () => {
  it('rejects an upload size whose content is not a whole MiB, with Azure wording, and creates nothing', async () => {
    // Prepare
    const before = env.sim.resources().disks.length;

    // Act
    const attempt = createUploadDisk(env, 'rules-odd', 21 * MiB + 1024);

    // Assess
    await expect(attempt).rejects.toMatchObject({
      statusCode: 400,
      code: 'BadRequest',
      message: `The upload size in bytes ${21 * MiB + 1024} - 512 bytes for the VHD footer (${21 * MiB + 512} in this case) must be a multiple of MiB.`,
    });
    expect(env.sim.resources().disks.length).toBe(before);
  });

  it('rejects an upload size under 20 MiB + 512 bytes', async () => {
    // Act
    const attempt = createUploadDisk(env, 'rules-small', 19 * MiB + 512);

    // Assess
    await expect(attempt).rejects.toMatchObject({ statusCode: 400, code: 'BadRequest' });
    await expect(attempt).rejects.toThrow(/must be between 20972032 bytes/);
    await expect(env.compute.disks.get(RG, 'rules-small')).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceNotFound',
    });
  });
});

describe('azure simulator: upload rules', () => {
  it('refuses a page write larger than 4 MiB with 413 and leaves the blob as it was', async () => {
    // Prepare
    await createUploadDisk(env, 'rules-big-page', SIZE);
    const blob = env.pageBlob(await grantDiskSas(env, 'rules-big-page', 'Write'));
    const disk = await env.compute.disks.get(RG, 'rules-big-page');

    // Act
    const attempt = blob.uploadPages(Buffer.alloc(4 * MiB + 512, 7), 0, 4 * MiB + 512);

    // Assess
    await expect(attempt).rejects.toMatchObject({ statusCode: 413, code: 'RequestBodyTooLarge' });
    expect((await env.sim.readDisk(disk.id!)).subarray(0, 4 * MiB + 512).every((b) => b === 0)).toBe(true);
  });

  it('refuses writes through a read SAS and reads through a revoked one', async () => {
    // Prepare: an uploaded disk, one read SAS still valid and one revoked
    const disk = await uploadedDisk(env, 'rules-read-only', vhd);
    const oldSas = await grantDiskSas(env, 'rules-read-only', 'Read');
    await env.compute.disks.revokeAccess(RG, 'rules-read-only', FAST_POLL);
    const readSas = await grantDiskSas(env, 'rules-read-only', 'Read');

    // Act
    const write = await env
      .pageBlob(readSas)
      .uploadPages(Buffer.alloc(512, 1), 0, 512)
      .catch((e: unknown) => e);
    const revokedRead = await env
      .pageBlob(oldSas)
      .downloadToBuffer(0, 512)
      .catch((e: unknown) => e);

    // Assess
    expect(write).toMatchObject({ statusCode: 403, code: 'AuthorizationPermissionMismatch' });
    expect(revokedRead).toMatchObject({ statusCode: 403, code: 'AuthenticationFailed' });
    expect((await env.sim.readDisk(disk.id!)).equals(vhd)).toBe(true);
    await env.compute.disks.revokeAccess(RG, 'rules-read-only', FAST_POLL);
  });

  const footerCases: Array<[string, (image: Buffer) => Buffer, RegExp]> = [
    [
      'a dynamic VHD footer',
      (image) => withFooter(image, buildVhdFooter(20 * MiB, 3, 512n)),
      /has disk type 'Dynamic'. Only fixed VHDs are supported/,
    ],
    [
      'a footer without the conectix cookie',
      (image) => withFooter(image, Buffer.alloc(512, 0x41)),
      /The specified cookie value in VHD footer indicates that disk 'abcd' with blob https:\/\/127\.0\.0\.1:\d+\/md-impexp-sim\/\w+\/abcd is not a supported VHD\. Disk is expected to have cookie value 'conectix'\./,
    ],
    [
      'a virtual size that is not a whole MiB',
      (image) => withFooter(image, buildFixedVhdFooter(20 * MiB - 512)),
      /has an unsupported virtual size of 20971008 bytes\. {2}The size must be a whole number \(in MBs\)\./,
    ],
    [
      'a footer whose size does not match uploadSizeBytes',
      (image) => withFooter(image, buildFixedVhdFooter(19 * MiB)),
      /virtual size 19922944 bytes in the VHD footer .* does not match the upload size 20972032 bytes/,
    ],
    [
      'a corrupt footer checksum',
      (image) => {
        const out = Buffer.from(image);
        out.writeUInt32BE((out.readUInt32BE(out.length - 512 + 64) + 1) >>> 0, out.length - 512 + 64);
        return out;
      },
      /checksum in the VHD footer .* does not match/,
    ],
  ];

  it.each(footerCases)(
    'fails revokeAccess with InvalidVhd for %s; the disk stays in ActiveUpload',
    async (_label, spoil, message) => {
      // Prepare
      const name = `rules-footer-${footerCases.findIndex((c) => c[0] === _label)}`;
      const { sas } = await uploadWithoutRevoke(env, name, spoil(vhd));

      // Act
      const attempt = env.compute.disks.revokeAccess(RG, name, FAST_POLL);

      // Assess: the operation fails with Azure's code (core-lro reports a failed LRO as
      // "The long-running operation has failed. <code>. <message>"); nothing changed, so a fixed footer can still go up
      await expect(attempt).rejects.toThrow(/The long-running operation has failed\. InvalidVhd\. /);
      await expect(attempt).rejects.toThrow(message);
      expect((await env.compute.disks.get(RG, name)).diskState).toBe('ActiveUpload');
      await env.pageBlob(sas).uploadPages(vhd.subarray(vhd.length - 512), vhd.length - 512, 512);
      await env.compute.disks.revokeAccess(RG, name, FAST_POLL);
      expect((await env.compute.disks.get(RG, name)).diskState).toBe('Unattached');
    },
  );
});

describe('azure simulator: VM rules', () => {
  it('refuses a VM on a disk whose upload access was not revoked, and attaches nothing', async () => {
    // Prepare
    const { disk, sas } = await uploadWithoutRevoke(env, 'rules-unrevoked', vhd);

    // Act
    const attempt = createVm(env, 'rules-vm-unrevoked', disk.id!, nicId);

    // Assess
    await expect(attempt).rejects.toMatchObject({ statusCode: 409, code: 'OperationNotAllowed' });
    await expect(attempt).rejects.toThrow(/is in ActiveUpload state and cannot be attached/);
    expect(env.sim.resources().virtualMachines).toEqual([]);
    expect((await env.network.networkInterfaces.get(RG, 'rules-nic')).virtualMachine).toBeUndefined();
    expect((await env.compute.disks.get(RG, 'rules-unrevoked')).diskState).toBe('ActiveUpload');
    expect(sas).toContain('/abcd?');
  });

  it('refuses a VM on a disk that does not exist', async () => {
    // Prepare
    const missing = `/subscriptions/${env.sim.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/disks/nope`;

    // Act
    const attempt = createVm(env, 'rules-vm-missing', missing, nicId);

    // Assess
    await expect(attempt).rejects.toMatchObject({ statusCode: 404, code: 'NotFound' });
    expect(env.sim.resources().virtualMachines).toEqual([]);
  });

  it('refuses read access to the disk of a running VM and deleting a NIC in use, then allows both once stopped', async () => {
    // Prepare
    const disk = await uploadedDisk(env, 'rules-running', vhd);
    await createVm(env, 'rules-vm-running', disk.id!, nicId);

    // Act
    const grant = await failureOf(grantDiskSas(env, 'rules-running', 'Read', 60));
    const deleteNic = await failureOf(
      env.network.networkInterfaces.beginDeleteAndWait(RG, 'rules-nic', FAST_POLL),
    );
    const deleteDisk = await failureOf(env.compute.disks.delete(RG, 'rules-running', FAST_POLL));

    // Assess
    expect(grant).toMatchObject({ statusCode: 409, code: 'OperationNotAllowed' });
    expect((grant as Error).message).toMatch(
      /Access not permitted because disk rules-running is currently attached to running VM/,
    );
    expect(deleteNic).toMatchObject({ statusCode: 400, code: 'NicInUse' });
    expect(deleteDisk).toMatchObject({ statusCode: 409, code: 'OperationNotAllowed' });
    await env.compute.virtualMachines.deallocate(RG, 'rules-vm-running', FAST_POLL);
    const read = await grantDiskSas(env, 'rules-running', 'Read', 60);
    expect(read).toContain('/abcd?');
    expect((await env.compute.disks.get(RG, 'rules-running')).diskState).toBe('ActiveSAS');
    await expect(env.compute.virtualMachines.start(RG, 'rules-vm-running', FAST_POLL)).rejects.toMatchObject({
      statusCode: 409,
      code: 'OperationNotAllowed',
    });
    await env.compute.disks.revokeAccess(RG, 'rules-running', FAST_POLL);
    expect((await env.compute.disks.get(RG, 'rules-running')).diskState).toBe('Reserved');
  });
});
