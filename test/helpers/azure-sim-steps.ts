/**
 * What the Azure simulator tests share: a fixed VHD made by shared/images (Azure's whole-MiB size),
 * the gateway's upload loop (pages of at most 4 MiB, zero ranges skipped, footer last), and the
 * network plumbing a VM needs.
 */
import { randomBytes } from 'node:crypto';

import type { PageBlobClient } from '@azure/storage-blob';

import { diskFromBuffer, writeFixedVhd } from '../../shared/images';
import type { AzureSimEnv } from './azure-sim';
import { FAST_POLL, LOCATION, RG } from './azure-sim';

export const MiB = 1024 * 1024;

/** Content with data at `dataAt` (offset, length) pairs and zeros elsewhere. */
export function diskContent(capacity: number, dataAt: Array<[number, number]>): Buffer {
  const buf = Buffer.alloc(capacity);
  for (const [off, len] of dataAt) randomBytes(len).copy(buf, off);
  return buf;
}

/** The fixed VHD shared/images writes for `content` with Azure's whole-MiB rounding. */
export async function fixedVhd(content: Buffer): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of writeFixedVhd(diskFromBuffer(content), { roundToMiB: true })) parts.push(c);
  return Buffer.concat(parts);
}

/**
 * Writes a VHD as the gateway does: content pages of at most `maxPage` bytes, all-zero 512-byte
 * runs skipped (a page blob starts zeroed), the footer last. Returns the page ranges written.
 */
export async function uploadVhd(
  blob: PageBlobClient,
  vhd: Buffer,
  maxPage = 4 * MiB,
): Promise<Array<[number, number]>> {
  const written: Array<[number, number]> = [];
  const content = vhd.length - 512;
  let off = 0;
  while (off < content) {
    while (off < content && vhd.subarray(off, off + 512).every((b) => b === 0)) off += 512;
    if (off >= content) break;
    let end = off;
    while (end < content && end - off < maxPage && !vhd.subarray(end, end + 512).every((b) => b === 0))
      end += 512;
    await blob.uploadPages(vhd.subarray(off, end), off, end - off);
    written.push([off, end]);
    off = end;
  }
  await blob.uploadPages(vhd.subarray(content), content, 512);
  return written;
}

export async function createUploadDisk(
  env: AzureSimEnv,
  name: string,
  uploadSizeBytes: number,
  hyperV = 'V2',
) {
  return env.compute.disks.createOrUpdate(
    RG,
    name,
    {
      location: LOCATION,
      sku: { name: 'Standard_LRS' },
      osType: 'Linux',
      hyperVGeneration: hyperV,
      creationData: { createOption: 'Upload', uploadSizeBytes },
    },
    FAST_POLL,
  );
}

/** Grants access to a disk (grantAccess, waited for) and returns the SAS URL. */
export async function grantDiskSas(
  env: AzureSimEnv,
  name: string,
  access: 'Read' | 'Write',
  durationInSeconds = 600,
): Promise<string> {
  const granted = await env.compute.disks.grantAccess(RG, name, { access, durationInSeconds }, FAST_POLL);
  if (!granted.accessSAS)
    throw new Error(`the simulator granted ${access} access to disk ${name} without a SAS URL`);
  return granted.accessSAS;
}

/** Grants read access to a snapshot (the only access a snapshot takes) and returns the SAS URL. */
export async function grantSnapshotSas(
  env: AzureSimEnv,
  name: string,
  durationInSeconds = 600,
): Promise<string> {
  const granted = await env.compute.snapshots.grantAccess(
    RG,
    name,
    { access: 'Read', durationInSeconds },
    FAST_POLL,
  );
  if (!granted.accessSAS)
    throw new Error(`the simulator granted read access to snapshot ${name} without a SAS URL`);
  return granted.accessSAS;
}

/** An incremental snapshot of a disk, as the gateway takes them (createOption Copy). */
export async function incrementalSnapshot(env: AzureSimEnv, name: string, diskId: string) {
  return env.compute.snapshots.createOrUpdate(
    RG,
    name,
    {
      location: LOCATION,
      incremental: true,
      creationData: { createOption: 'Copy', sourceResourceId: diskId },
    },
    FAST_POLL,
  );
}

/**
 * Creates a disk for `vhd`, grants write access and uploads the VHD, but does not revoke: the disk
 * stays in ActiveUpload. Returns the disk as created and the write SAS.
 */
export async function uploadWithoutRevoke(
  env: AzureSimEnv,
  name: string,
  vhd: Buffer,
  durationInSeconds = 600,
) {
  const disk = await createUploadDisk(env, name, vhd.length);
  const sas = await grantDiskSas(env, name, 'Write', durationInSeconds);
  await uploadVhd(env.pageBlob(sas), vhd);
  return { disk, sas };
}

/** Creates, uploads and revokes: the disk ends Unattached. */
export async function uploadedDisk(env: AzureSimEnv, name: string, vhd: Buffer) {
  const { disk } = await uploadWithoutRevoke(env, name, vhd, 3600);
  await env.compute.disks.revokeAccess(RG, name, FAST_POLL);
  return disk;
}

/** A virtual network with one subnet and a NIC on it; returns the NIC. */
export async function networkFor(env: AzureSimEnv, prefix: string) {
  const vnet = await env.network.virtualNetworks.beginCreateOrUpdateAndWait(
    RG,
    `${prefix}-vnet`,
    {
      location: LOCATION,
      addressSpace: { addressPrefixes: ['10.20.0.0/16'] },
      subnets: [{ name: 'default', addressPrefix: '10.20.1.0/24' }],
    },
    FAST_POLL,
  );
  const subnetId = vnet.subnets?.[0]?.id;
  if (!subnetId) throw new Error('the simulator returned a virtual network without its subnet');
  return env.network.networkInterfaces.beginCreateOrUpdateAndWait(
    RG,
    `${prefix}-nic`,
    { location: LOCATION, ipConfigurations: [{ name: 'ipconfig1', subnet: { id: subnetId } }] },
    FAST_POLL,
  );
}

export async function createVm(env: AzureSimEnv, name: string, diskId: string, nicId: string) {
  return env.compute.virtualMachines.createOrUpdate(
    RG,
    name,
    {
      location: LOCATION,
      hardwareProfile: { vmSize: 'Standard_D2s_v5' },
      storageProfile: { osDisk: { createOption: 'Attach', osType: 'Linux', managedDisk: { id: diskId } } },
      networkProfile: { networkInterfaces: [{ id: nicId, primary: true }] },
    },
    FAST_POLL,
  );
}

/** Polls the instance view until PowerState is `want`; returns every PowerState seen. */
export async function waitPowerState(env: AzureSimEnv, name: string, want: string): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < 500; i++) {
    const view = await env.compute.virtualMachines.instanceView(RG, name);
    const power = view.statuses?.find((s) => s.code?.startsWith('PowerState/'))?.code ?? '';
    if (seen[seen.length - 1] !== power) seen.push(power);
    if (power === want) return seen;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`VM ${name} never reached ${want}; saw ${seen.join(' → ')}`);
}

/** Merges adjacent [start, end) ranges. */
export function mergeRanges(ranges: Array<[number, number]>): Array<[number, number]> {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/**
 * [start, end) byte ranges of a page-range answer. storage-blob 12.32 turns the REST answer's
 * inclusive <End> into `count = End - Start`, one byte short of the range, so the byte count is count + 1.
 */
export function byteRanges(
  ranges: Array<{ offset: number; count?: number }> | undefined,
): Array<[number, number]> {
  return (ranges ?? []).map((r) => [r.offset, r.offset + (r.count ?? 0) + 1]);
}
