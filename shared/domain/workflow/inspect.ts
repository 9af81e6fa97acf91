/**
 * Offload · Inspect: reads the uploaded image once, as a stream, before anything is created in a
 * cloud, and records what it found on the job (hardware, disk format, sizes, content SHA-256).
 */
import {
  detectImageFormat,
  detectPartitionTable,
  inspectOva,
  isImageError,
  openDiskImage,
  openRandomAccess,
  streamFrom,
  tapDisk,
  type OvaInspection,
} from '../../images';
import { azureRefusal } from '../../clouds/azure/disk-rules';
import { resolveAwsMode } from '../aws-mode';
import { beginStep, endStep, updateJob, type Gateway } from '../gateway';
import type { AwsMode, VmHardware } from '../job';
import { deltaIndexKey, inspectDelta, type InspectedDelta } from './aws-delta-upload';
import { StepFailure } from '../errors';
import { assertNotCancelled, failStep, hashing, rejected } from './step-kit';

function hardwareFrom(ova: OvaInspection): VmHardware {
  return {
    vcpus: ova.hardware.vcpus,
    memoryMiB: ova.hardware.memoryMiB,
    firmware: ova.hardware.firmware,
    ...(ova.hardware.osType ? { osType: ova.hardware.osType } : {}),
    disks: ova.disks.map((d) => ({ name: d.name, capacityBytes: d.capacity, format: d.format })),
    nics: ova.hardware.nics,
  };
}

/**
 * Reads the uploaded image once, as a stream: verifies an OVA's manifest, reads its OVF hardware,
 * checks the disk format and partition table that AWS VM Import will insist on, and measures the
 * file's and the disk content's SHA-256 (the return path compares against the latter).
 */
export async function inspectImage(
  gw: Gateway,
  jobId: string,
): Promise<{ diskSha256: string; format: string; mode?: AwsMode }> {
  let job = await gw.store.get(jobId);
  assertNotCancelled(job);
  job = await updateJob(gw, jobId, (j) => {
    assertNotCancelled(j); // a DELETE may have landed since the read above
    j.state = 'inspecting';
    beginStep(j, 'inspect', gw.now());
  });
  const size = await gw.staging.size(job.image.key);
  if (size === undefined) {
    // Recorded here: Compensate keeps a recorded error, but would make `cloud-rejected` of this name.
    throw await failStep(
      gw,
      jobId,
      new StepFailure('UploadMissing', {
        type: 'upload-missing',
        title: 'The uploaded image is missing',
        detail: `s3://${job.image.bucket}/${job.image.key} does not exist; the upload was not completed`,
        step: 'inspect',
      }),
    );
  }
  const { body } = await gw.staging.read(job.image.key);
  const file = hashing(body);
  let result: {
    hardware?: VmHardware;
    diskSha256: string;
    capacity: number;
    partitionTable: 'gpt' | 'mbr' | 'none';
    format: string;
    disk: { offset: number; size: number; format: string };
  };
  let delta: InspectedDelta | undefined;
  try {
    if (job.image.format === 'delta') {
      // an incremental upload: the blocks that changed since the VM's cached snapshot (AWS direct)
      if (job.target.cloud !== 'aws') throw rejected('a delta upload needs an AWS direct offload');
      delta = await inspectDelta(gw, job, job.target.region, file.stream);
      result = {
        ...(delta.hardware ? { hardware: delta.hardware } : {}),
        diskSha256: delta.diskSha256,
        capacity: delta.capacity,
        partitionTable: delta.partitionTable,
        format: `delta (${delta.index.extents.length} extent(s), ${delta.dataBytes} bytes of data, ${delta.zeroBytes} zeroed)`,
        disk: { offset: 0, size, format: 'delta' },
      };
    } else if (job.image.format === 'ova') {
      const ova = await inspectOva(file.stream);
      const disk = ova.disks[0];
      if (!disk) throw rejected('the OVA holds no disk');
      if (ova.disks.length > 1) {
        throw rejected(`the OVA holds ${ova.disks.length} disks; this version offloads single-disk VMs only`);
      }
      const entry = ova.files.find((f) => f.name === disk.name);
      if (!entry) throw rejected(`the OVA's disk ${disk.name} is not one of its files`);
      result = {
        hardware: hardwareFrom(ova),
        diskSha256: disk.contentSha256,
        capacity: disk.capacity,
        partitionTable: disk.partitionTable,
        format: `ova/${disk.format}`,
        disk: { offset: entry.offset, size: entry.size, format: disk.format },
      };
    } else {
      // Detect from the first bytes and the footer (a fixed VHD is only recognisable by its last 512).
      const src = await gw.staging.byteSource(job.image.key, size);
      const head = await src.read(0, Math.min(64 * 1024, size));
      const tail = size >= 512 ? await src.read(size - 512, 512) : undefined;
      const detected = job.image.format === 'raw' ? 'raw' : detectImageFormat(head, size, tail);
      const accepted: Record<string, string[]> = {
        vmdk: ['vmdk-stream-optimized'],
        vhd: ['vhd-fixed', 'vhd-dynamic'],
        vhdx: ['vhdx'],
        raw: ['raw'],
      };
      if (!accepted[job.image.format]?.includes(detected)) {
        throw rejected(
          `the offload declared imageFormat '${job.image.format}' but the file is ${detected}` +
            (detected.startsWith('vmdk') ? ' (AWS VM Import takes only streamOptimized VMDKs)' : ''),
        );
      }
      // Dynamic VHD and VHDX put their block table first: read them by random access (ranged GETs).
      const opened =
        detected === 'vhd-dynamic' || detected === 'vhdx'
          ? { format: detected, disk: streamFrom(await openRandomAccess(src, { format: detected })) }
          : await openDiskImage(file.stream, { totalSize: size, format: detected });
      const tap = tapDisk(opened.disk, 4096);
      for await (const _ of tap.disk.extents) {
        // drain: the tap hashes as the extents pass
      }
      const r = tap.result();
      result = {
        diskSha256: r.sha256,
        capacity: opened.disk.capacity,
        partitionTable: detectPartitionTable(r.head),
        format: opened.format,
        disk: { offset: 0, size, format: detected },
      };
    }
    // Drain whatever trails the last entry so the whole file is hashed.
    for await (const _ of file.stream) {
      // nothing
    }
  } catch (err) {
    if (err instanceof StepFailure) throw await failStep(gw, jobId, err);
    if (isImageError(err)) throw await failStep(gw, jobId, rejected(`${err.code}: ${err.message}`));
    throw err;
  }
  if (result.partitionTable === 'none') {
    throw await failStep(
      gw,
      jobId,
      rejected(
        job.target.cloud === 'azure'
          ? 'the disk has no MBR or GPT partition table, so an Azure VM cannot boot from it. Export the VM with its partitioned system disk'
          : 'the disk has no MBR or GPT partition table; AWS VM Import rejects such disks ("No valid partitions"). Export the VM with its partitioned system disk',
      ),
    );
  }
  if (job.target.cloud === 'azure') {
    // Before anything is created in Azure: what Azure would refuse fails here, with its rule.
    const refusal = azureRefusal(result.capacity, result.hardware ?? job.hardware);
    if (refusal) throw await failStep(gw, jobId, rejected(refusal, 'Azure would reject the image'));
  }
  const measured = file.digest();
  if (job.image.sha256 && job.image.sha256 !== measured.sha256) {
    throw await failStep(
      gw,
      jobId,
      rejected(
        `the uploaded file's SHA-256 is ${measured.sha256}, but the client declared ${job.image.sha256}`,
        'The upload was corrupted',
      ),
    );
  }
  // AWS: direct (EBS snapshot) or VM Import, as requested or as the guest allows (aws-mode.ts).
  // A resumed workflow inspects again: a mode resolved before keeps the reason it was resolved with.
  const aws =
    job.target.cloud !== 'aws'
      ? undefined
      : job.target.mode && job.target.modeReason
        ? { mode: job.target.mode, reason: job.target.modeReason }
        : resolveAwsMode(job.target.mode, result.hardware);
  await updateJob(gw, jobId, (j) => {
    j.image.sha256 = measured.sha256;
    j.image.diskSha256 = result.diskSha256;
    j.image.diskCapacityBytes = result.capacity;
    j.image.partitionTable = result.partitionTable;
    if (result.hardware) j.hardware = result.hardware;
    j.image.disk = result.disk;
    if (delta) {
      j.image.delta = {
        indexKey: deltaIndexKey(jobId),
        baseSha256: delta.header.baseSha256,
        baseCapacity: delta.header.baseCapacity,
        extents: delta.index.extents.length,
        dataBytes: delta.dataBytes,
        zeroBytes: delta.zeroBytes,
      };
    }
    if (aws && j.target.cloud === 'aws') {
      j.target.mode = aws.mode;
      j.target.modeReason = aws.reason;
    }
    endStep(
      j,
      'succeeded',
      gw.now(),
      `${result.format}, ${result.capacity} bytes, ${result.partitionTable}` +
        (aws ? `; AWS ${aws.mode}: ${aws.reason}` : ''),
    );
  });
  return { diskSha256: result.diskSha256, format: result.format, ...(aws ? { mode: aws.mode } : {}) };
}
