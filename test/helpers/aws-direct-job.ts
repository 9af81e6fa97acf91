/**
 * A running AWS direct-mode job, placed in the embedded deployment without the direct offload (built
 * in parallel, issue #5's other half): the image is staged in S3 and inspected by the real inspect
 * step, its non-zero 512 KiB blocks go up with the EBS direct APIs (StartSnapshot → PutSnapshotBlock →
 * CompleteSnapshot), the snapshot is registered as an AMI (ENA, hvm, x86_64, boot mode from the
 * firmware) and the real adapter launches the instance; the job then records exactly what the direct
 * offload records (target.mode 'direct', cloud.baseSnapshotId/amiId/instanceId, each resource).
 *
 * Once the direct offload is merged, `placeRunningDirectJob` can be replaced by an offload through
 * the HTTP API with `target.mode: 'direct'`; the tests only use the returned job and original disk.
 */
import { readFile } from 'node:fs/promises';
import { DescribeInstancesCommand, RegisterImageCommand } from '@aws-sdk/client-ec2';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SAMPLE_OVA } from '../../infra/local/demo';
import { createGateway, recordResource, type Gateway } from '../../shared/domain/gateway';
import { newJobId } from '../../shared/domain/ids';
import type { Job } from '../../shared/domain/job';
import { inspectImage } from '../../shared/domain/workflow/inspect';
import { openBaseImage } from '../../shared/images';
import { ebsVolumeSizeGiB } from '../../shared/clouds/aws/ebs-blocks';
import { nonZeroBlocks, uploadSnapshot, waitSnapshot } from './aws-sim';
import type { TestGateway } from './embedded';
import { pollUntil } from './aws-sim-env';

export const DIRECT_REGION = 'us-east-1';

export interface PlacedDirectJob {
  gw: Gateway;
  job: Job;
  /** The offloaded disk's bytes (the sample VM's disk is 64 MiB). */
  original: Buffer;
}

export interface PlaceDirectJobOptions {
  vmName?: string;
  /** An OVA (default: the project's sample VM). */
  image?: string;
  /** Mark the uploaded snapshot and the AMI as the image cache's (`retained: true`). */
  cached?: boolean;
}

export async function placeRunningDirectJob(
  tg: TestGateway,
  opts: PlaceDirectJobOptions = {},
): Promise<PlacedDirectJob> {
  const gw = createGateway(tg.deps);
  const vmName = opts.vmName ?? 'direct-vm';
  const image = opts.image ?? SAMPLE_OVA;
  const jobId = newJobId();
  const key = `staging/${jobId}/${vmName}.ova`;
  const body = await readFile(image);
  const now = gw.now().toISOString();

  // The upload, as complete-upload leaves it: the object staged and recorded, inspect next.
  await gw.s3.send(new PutObjectCommand({ Bucket: gw.staging.bucket, Key: key, Body: body }));
  await gw.store.create({
    jobId,
    vmName,
    state: 'inspecting',
    target: { cloud: 'aws', region: DIRECT_REGION, instanceType: 't3.medium', mode: 'direct' },
    createdAt: now,
    updatedAt: now,
    version: 1,
    image: { format: 'ova', bucket: gw.staging.bucket, key, sizeBytes: body.length },
    resources: [{ type: 's3-object', id: key, location: gw.staging.bucket, createdAt: now }],
    steps: [],
    bytes: { uploaded: body.length },
    cloud: {},
  });
  await inspectImage(gw, jobId);
  let job = await gw.store.get(jobId);

  // The direct upload: the disk's non-zero blocks into a new EBS snapshot.
  const base = await openBaseImage(image);
  const original = await base.disk.read(0, base.disk.capacity);
  await base.close();
  const ebs = tg.deps.ebsFor(DIRECT_REGION);
  const ec2 = tg.deps.ec2For(DIRECT_REGION);
  const volumeSize = ebsVolumeSizeGiB(original.length);
  const snapshotId = await uploadSnapshot(ebs, original, {
    volumeSize,
    blocks: nonZeroBlocks(original),
    description: `burstgate ${jobId}`,
  });
  const sealed = await waitSnapshot(ec2, snapshotId);
  if (sealed.value.State !== 'completed')
    throw new Error(`snapshot ${snapshotId} ended ${sealed.value.State}`);
  const registered = await ec2.send(
    new RegisterImageCommand({
      Name: `burstgate-${jobId}`,
      RootDeviceName: '/dev/xvda',
      BlockDeviceMappings: [
        {
          DeviceName: '/dev/xvda',
          Ebs: { SnapshotId: snapshotId, VolumeSize: volumeSize, DeleteOnTermination: true },
        },
      ],
      Architecture: 'x86_64',
      VirtualizationType: 'hvm',
      EnaSupport: true,
      BootMode: job.hardware?.firmware === 'efi' ? 'uefi' : 'legacy-bios',
      TagSpecifications: [
        {
          ResourceType: 'image',
          Tags: [
            { Key: 'burstgate:managed', Value: 'true' },
            { Key: 'burstgate:job', Value: jobId },
          ],
        },
      ],
    }),
  );
  const amiId = registered.ImageId!;
  job = await gw.store.update(jobId, (j) => {
    const retained = opts.cached ? { retained: true } : {};
    recordResource(j, { type: 'snapshot', id: snapshotId, location: DIRECT_REGION, ...retained }, gw.now());
    recordResource(j, { type: 'ami', id: amiId, location: DIRECT_REGION, ...retained }, gw.now());
    j.cloud.baseSnapshotId = snapshotId;
    j.cloud.amiId = amiId;
    j.state = 'launching';
  });

  // The launch, by the gateway's own adapter (it tags the instance and its volume as managed).
  const launched = await gw.cloudFor(job.target).launch(job);
  await pollUntil(
    async () => {
      const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [launched.id] }));
      return out.Reservations?.[0]?.Instances?.[0]?.State?.Name ?? '';
    },
    (state) => state === 'running',
  );
  job = await gw.store.update(jobId, (j) => {
    recordResource(j, launched, gw.now());
    j.cloud.instanceId = launched.id;
    j.state = 'running';
  });
  return { gw, job, original };
}
