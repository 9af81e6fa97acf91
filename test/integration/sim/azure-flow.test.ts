/**
 * The gateway's whole Azure path against the simulator with the real SDK clients: token, upload of a
 * fixed VHD through a write SAS, incremental base snapshot, NIC and VM, guest writes, deallocate,
 * second snapshot, page-range diff through read SASes, ranged reads, full-disk fallback, and cleanup
 * that leaves nothing behind.
 */
import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { FAST_POLL, NO_AZURE_RESOURCES, RG, useAzureSim } from '../../helpers/azure-sim';
import {
  byteRanges,
  createUploadDisk,
  createVm,
  diskContent,
  fixedVhd,
  grantDiskSas,
  grantSnapshotSas,
  incrementalSnapshot,
  MiB,
  mergeRanges,
  networkFor,
  uploadVhd,
  waitPowerState,
} from '../../helpers/azure-sim-steps';

const env = useAzureSim();

describe('azure simulator: offload and return with the real SDK', () => {
  it('uploads a fixed VHD, runs it as a VM and returns exactly the pages the guest wrote', async () => {
    // Prepare: 24 MiB of content with data in three places, as a fixed VHD with Azure's whole-MiB size
    const content = diskContent(24 * MiB, [
      [0, 64 * 1024],
      [5 * MiB + 4096, 6 * MiB],
      [20 * MiB, 512],
    ]);
    const vhd = await fixedVhd(content);
    expect(vhd.length).toBe(24 * MiB + 512);

    // Act: offload — disk for upload, write SAS, pages, revoke
    const disk = await createUploadDisk(env, 'flow-os', vhd.length);
    expect(disk.diskState).toBe('ReadyToUpload');
    const writeSas = await grantDiskSas(env, 'flow-os', 'Write');
    expect(writeSas).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/md-impexp-sim\/\w+\/abcd\?/);
    expect((await env.compute.disks.get(RG, 'flow-os')).diskState).toBe('ActiveUpload');
    const uploaded = await uploadVhd(env.pageBlob(writeSas), vhd);
    await env.compute.disks.revokeAccess(RG, 'flow-os', FAST_POLL);
    const base = await incrementalSnapshot(env, 'flow-base', disk.id!);
    const nic = await networkFor(env, 'flow');
    await createVm(env, 'flow-vm', disk.id!, nic.id!);
    const powerStates = await waitPowerState(env, 'flow-vm', 'PowerState/running');

    // Assess: the upload skipped zero ranges, split pages at 4 MiB, and the disk holds the VHD
    expect(uploaded.every(([a, b]) => b - a <= 4 * MiB)).toBe(true);
    expect(uploaded.reduce((n, [a, b]) => n + b - a, 0)).toBeLessThan(8 * MiB);
    expect((await env.compute.disks.get(RG, 'flow-os')).diskState).toBe('Attached');
    expect(base.incremental).toBe(true);
    expect(powerStates[powerStates.length - 1]).toBe('PowerState/running');
    expect((await env.sim.readDisk(disk.id!)).equals(vhd)).toBe(true);

    // Act: the guest writes three ranges (one straddling a 4 MiB boundary), then return
    const guest: Array<[number, Buffer]> = [
      [1 * MiB, randomBytes(8192)],
      [4 * MiB - 1024, randomBytes(2 * MiB + 1024)],
      [23 * MiB + 512, randomBytes(512)],
    ];
    for (const [off, bytes] of guest) await env.sim.guestWrite(disk.id!, off, bytes);
    await env.compute.virtualMachines.deallocate(RG, 'flow-vm', FAST_POLL);
    const afterDeallocate = await waitPowerState(env, 'flow-vm', 'PowerState/deallocated');
    const next = await incrementalSnapshot(env, 'flow-return', disk.id!);
    const baseSas = await grantSnapshotSas(env, 'flow-base');
    const nextBlob = env.pageBlob(await grantSnapshotSas(env, 'flow-return'));
    const diff = await nextBlob.getPageRangesDiffForManagedDisks(0, vhd.length, baseSas);
    const ranges = byteRanges(diff.pageRange);
    const returned = Buffer.from(vhd);
    for (const [start, end] of ranges) {
      const part = await nextBlob.downloadToBuffer(start, end - start);
      part.copy(returned, start);
    }
    // the fallback: a read SAS on the (deallocated) disk itself and a full download
    const diskSas = await grantDiskSas(env, 'flow-os', 'Read');
    const full = await env.pageBlob(diskSas).downloadToBuffer(0, vhd.length);

    // Assess: the diff is exactly the guest's writes; base + diff = the disk now; the fallback agrees
    expect(afterDeallocate[afterDeallocate.length - 1]).toBe('PowerState/deallocated');
    expect(next.incremental).toBe(true);
    expect(ranges).toEqual(mergeRanges(guest.map(([off, b]) => [off, off + b.length])));
    expect(diff.clearRange ?? []).toEqual([]);
    const expected = Buffer.from(vhd);
    for (const [off, bytes] of guest) bytes.copy(expected, off);
    expect(returned.equals(expected)).toBe(true);
    expect(full.equals(expected)).toBe(true);
    expect((await env.sim.readDisk(base.id!)).equals(vhd)).toBe(true);

    // Act: cleanup in the gateway's order
    await env.compute.disks.revokeAccess(RG, 'flow-os', FAST_POLL);
    await env.compute.snapshots.revokeAccess(RG, 'flow-base', FAST_POLL);
    await env.compute.snapshots.revokeAccess(RG, 'flow-return', FAST_POLL);
    await env.compute.virtualMachines.delete(RG, 'flow-vm', FAST_POLL);
    await env.network.networkInterfaces.beginDeleteAndWait(RG, 'flow-nic', FAST_POLL);
    await env.compute.disks.delete(RG, 'flow-os', FAST_POLL);
    await env.compute.snapshots.delete(RG, 'flow-base', FAST_POLL);
    await env.compute.snapshots.delete(RG, 'flow-return', FAST_POLL);
    await env.network.virtualNetworks.beginDeleteAndWait(RG, 'flow-vnet', FAST_POLL);

    // Assess: nothing is left, and a revoked SAS no longer reads
    expect(env.sim.resources()).toEqual(NO_AZURE_RESOURCES);
    await expect(nextBlob.downloadToBuffer(0, 512)).rejects.toMatchObject({ statusCode: 403 });
    const actions = new Set(env.sim.calls.map((c) => c.action));
    expect(actions).toContain('Token');
    expect(actions).toContain('AsyncOperation_Get');
    expect(actions).toContain('PageBlob_GetPageRangesDiff');
  });
});
