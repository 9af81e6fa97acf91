/** Import and export through real disk formats: OVA, streamOptimized VMDK, fixed and dynamic VHD, VHDX. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import {
  CreateInstanceExportTaskCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  ImportImageCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type ExportTask,
} from '@aws-sdk/client-ec2';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  diskFromBuffer,
  hashDisk,
  inspectOva,
  openDiskImage,
  writeFixedVhd,
  writeOva,
  writeStreamOptimizedVmdk,
} from '../../../shared/images';
import { importRawDisk, useSimEnv, waitExport } from '../../helpers/aws-sim';
import {
  BUCKET,
  EXPORT_BUCKET,
  gptDisk,
  putObject,
  waitImport,
  waitInstanceState,
} from '../../helpers/aws-sim-env';
import { collect } from '../../helpers/bytes';

const run = promisify(execFile);

const env = useSimEnv();
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'burstgate-awssim-formats-'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function importObject(key: string, format?: string) {
  const started = await env.ec2.send(
    new ImportImageCommand({
      DiskContainers: [{ Format: format, UserBucket: { S3Bucket: BUCKET, S3Key: key } }],
    }),
  );
  return (await waitImport(env.ec2, started.ImportTaskId!)).value;
}

async function removeImage(imageId: string): Promise<void> {
  const img = (await env.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images![0]!;
  await env.ec2.send(new DeregisterImageCommand({ ImageId: imageId }));
  for (const bd of img.BlockDeviceMappings ?? []) {
    await env.ec2.send(new DeleteSnapshotCommand({ SnapshotId: bd.Ebs!.SnapshotId! }));
  }
}

async function sha256Of(snapshotId: string): Promise<string> {
  return (await hashDisk(await env.sim.readDisk('snapshot', snapshotId))).sha256;
}

async function ova(disk: Buffer, firmware: 'bios' | 'efi'): Promise<Buffer> {
  return collect(
    writeOva({
      vmName: 'burst-vm',
      firmware,
      disks: [{ fileName: 'burst-vm-disk1.vmdk', disk: diskFromBuffer(disk) }],
      tmpDir: work,
    }),
  );
}

describe('AWS simulator: disk formats', () => {
  it('imports an OVA; the AMI boots UEFI when the OVF says efi', async () => {
    // Prepare
    const disk = gptDisk();
    await putObject(env.s3, 'vm.ova', await ova(disk, 'efi'));

    // Act
    const task = await importObject('vm.ova', 'OVA');

    // Assess
    expect(task.Status).toBe('completed');
    expect(task.SnapshotDetails?.[0]?.Format).toBe('VMDK');
    const image = (await env.ec2.send(new DescribeImagesCommand({ ImageIds: [task.ImageId!] }))).Images![0]!;
    expect(image.BootMode).toBe('uefi');
    expect(await sha256Of(task.SnapshotDetails![0]!.SnapshotId!)).toBe(
      (await hashDisk(diskFromBuffer(disk))).sha256,
    );
    await removeImage(task.ImageId!);
  });

  it('fails an OVA whose manifest does not verify', async () => {
    // Prepare: change one hex digit of the disk's digest in the manifest (the last tar entry)
    const bytes = await ova(gptDisk(), 'bios');
    const at = bytes.lastIndexOf(Buffer.from('(burst-vm-disk1.vmdk)= ')) + '(burst-vm-disk1.vmdk)= '.length;
    bytes[at] = bytes[at] === 0x30 ? 0x31 : 0x30;
    await putObject(env.s3, 'bad-manifest.ova', bytes);

    // Act
    const task = await importObject('bad-manifest.ova');

    // Assess
    expect(task.Status).toBe('deleted');
    expect(task.StatusMessage).toMatch(
      /^ClientError: Disk validation failed \[OVA manifest .*burst-vm-disk1\.vmdk/,
    );
    expect(env.sim.resources().snapshots).toEqual([]);
  });

  it('fails a truncated OVA', async () => {
    // Prepare
    const bytes = await ova(gptDisk(), 'bios');
    await putObject(env.s3, 'truncated.ova', bytes.subarray(0, Math.floor(bytes.length / 2)));

    // Act
    const task = await importObject('truncated.ova', 'OVA');

    // Assess
    expect(task.Status).toBe('deleted');
    expect(task.StatusMessage).toMatch(/^ClientError: Disk validation failed \[/);
  });

  it('imports a streamOptimized VMDK made by qemu-img, and one made by shared/images', async () => {
    // Prepare
    const disk = gptDisk();
    await writeFile(join(work, 'src.raw'), disk);
    await run('qemu-img', [
      'convert',
      '-f',
      'raw',
      '-O',
      'vmdk',
      '-o',
      'subformat=streamOptimized',
      join(work, 'src.raw'),
      join(work, 'qemu.vmdk'),
    ]);
    await putObject(env.s3, 'qemu.vmdk', await readFile(join(work, 'qemu.vmdk')));
    await putObject(env.s3, 'ours.vmdk', await collect(writeStreamOptimizedVmdk(diskFromBuffer(disk))));
    const expected = (await hashDisk(diskFromBuffer(disk))).sha256;

    // Act
    const fromQemu = await importObject('qemu.vmdk', 'VMDK');
    const fromOurs = await importObject('ours.vmdk');

    // Assess
    expect(fromQemu.Status).toBe('completed');
    expect(fromOurs.Status).toBe('completed');
    expect(await sha256Of(fromQemu.SnapshotDetails![0]!.SnapshotId!)).toBe(expected);
    expect(await sha256Of(fromOurs.SnapshotDetails![0]!.SnapshotId!)).toBe(expected);
    await removeImage(fromQemu.ImageId!);
    await removeImage(fromOurs.ImageId!);
  });

  it('imports a fixed VHD', async () => {
    // Prepare
    const disk = gptDisk();
    await putObject(env.s3, 'disk.vhd', await collect(writeFixedVhd(diskFromBuffer(disk))));

    // Act
    const task = await importObject('disk.vhd', 'VHD');

    // Assess
    expect(task.Status).toBe('completed');
    expect(task.SnapshotDetails?.[0]?.Format).toBe('VHD');
    expect(await sha256Of(task.SnapshotDetails![0]!.SnapshotId!)).toBe(
      (await hashDisk(diskFromBuffer(disk))).sha256,
    );
    await removeImage(task.ImageId!);
  });

  it.each([
    ['VHDX', 'vhdx', []],
    ['dynamic VHD', 'vpc', ['-o', 'subformat=dynamic,force_size=on']],
  ] as const)(
    'imports a %s made by qemu-img, reading it by random access',
    async (_label, qemuFormat, extra) => {
      // Prepare
      const disk = gptDisk();
      const src = join(work, `src-${qemuFormat}.raw`);
      const image = join(work, `disk.${qemuFormat}`);
      await writeFile(src, disk);
      await run('qemu-img', ['convert', '-f', 'raw', '-O', qemuFormat, ...extra, src, image]);
      await putObject(env.s3, `disk.${qemuFormat}`, await readFile(image));

      // Act
      const task = await importObject(`disk.${qemuFormat}`, qemuFormat === 'vhdx' ? 'VHDX' : 'VHD');

      // Assess
      expect(task.Status, task.StatusMessage).toBe('completed');
      expect(await sha256Of(task.SnapshotDetails![0]!.SnapshotId!)).toBe(
        (await hashDisk(diskFromBuffer(disk))).sha256,
      );
      await removeImage(task.ImageId!);
    },
  );

  describe('export', () => {
    let source: Buffer;
    let instanceId: string;
    let imageId: string;

    beforeAll(async () => {
      source = gptDisk();
      const task = await importRawDisk(env, 'export-src.raw', source);
      imageId = task.ImageId!;
      const out = await env.ec2.send(
        new RunInstancesCommand({
          ImageId: imageId,
          MinCount: 1,
          MaxCount: 1,
          TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'burst-vm' }] }],
        }),
      );
      instanceId = out.Instances![0]!.InstanceId!;
      await waitInstanceState(env.ec2, instanceId, 'running');
      await env.ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
      await waitInstanceState(env.ec2, instanceId, 'stopped');
    });

    afterAll(async () => {
      await env.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
      await waitInstanceState(env.ec2, instanceId, 'terminated');
      await removeImage(imageId);
    });

    async function exportAs(
      format: 'VMDK' | 'VHD',
      container?: 'ova',
    ): Promise<{ task: ExportTask; body: Buffer }> {
      const created = await env.ec2.send(
        new CreateInstanceExportTaskCommand({
          InstanceId: instanceId,
          TargetEnvironment: 'vmware',
          ExportToS3Task: { DiskImageFormat: format, ContainerFormat: container, S3Bucket: EXPORT_BUCKET },
        }),
      );
      const { value: task } = await waitExport(env.ec2, created.ExportTask!.ExportTaskId!);
      const obj = await env.s3.send(
        new GetObjectCommand({ Bucket: EXPORT_BUCKET, Key: task.ExportToS3Task!.S3Key! }),
      );
      return { task, body: Buffer.from(await obj.Body!.transformToByteArray()) };
    }

    it('exports an OVA whose disk holds the original bytes', async () => {
      // Act
      const { task, body } = await exportAs('VMDK', 'ova');
      const inspected = await inspectOva(
        (async function* () {
          yield body;
        })(),
      );

      // Assess
      expect(task.State).toBe('completed');
      expect(task.ExportToS3Task?.S3Key).toBe(`${task.ExportTaskId}.ova`);
      expect(task.ExportToS3Task?.ContainerFormat).toBe('ova');
      expect(inspected.hardware.vmName).toBe('burst-vm');
      expect(inspected.manifest?.verified.length).toBeGreaterThan(0);
      expect(inspected.disks).toHaveLength(1);
      expect(inspected.disks[0]?.contentSha256).toBe((await hashDisk(diskFromBuffer(source))).sha256);
    });

    it('exports a streamOptimized VMDK that qemu-img checks and finds identical', async () => {
      // Act
      const { task, body } = await exportAs('VMDK');
      const file = join(work, 'export.vmdk');
      await writeFile(file, body);
      await writeFile(join(work, 'export-src.raw'), source);
      const check = await run('qemu-img', ['check', '-f', 'vmdk', file]);
      const compare = await run('qemu-img', [
        'compare',
        '-f',
        'raw',
        '-F',
        'vmdk',
        join(work, 'export-src.raw'),
        file,
      ]);

      // Assess
      expect(task.ExportToS3Task?.S3Key).toBe(`${task.ExportTaskId}.vmdk`);
      expect(check.stdout).toMatch(/No errors were found/);
      expect(compare.stdout).toMatch(/Images are identical/);
    });

    it('exports a fixed VHD', async () => {
      // Act
      const { task, body } = await exportAs('VHD');
      const opened = await openDiskImage(
        (async function* () {
          yield body;
        })(),
        { totalSize: body.length, tail: body.subarray(body.length - 512) },
      );

      // Assess
      expect(task.ExportToS3Task?.S3Key).toBe(`${task.ExportTaskId}.vhd`);
      expect(opened.format).toBe('vhd-fixed');
      expect((await hashDisk(opened.disk)).sha256).toBe((await hashDisk(diskFromBuffer(source))).sha256);
    });
  });
});
