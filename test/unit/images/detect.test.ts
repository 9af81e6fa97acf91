import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectImageFormat } from '../../../shared/images/detect';
import { detectPartitionTable } from '../../../shared/images/partition';
import { collect, join, makeTmpDir, qemuImg, writeSparseRaw } from '../../helpers/images/fixtures';
import { writeTar } from '../../../shared/images/tar';

let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  tmp = await makeTmpDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

async function headTail(path: string): Promise<{ head: Buffer; tail: Buffer; size: number }> {
  const all = await readFile(path);
  return {
    head: all.subarray(0, 65536),
    tail: all.subarray(Math.max(0, all.length - 512)),
    size: all.length,
  };
}

describe('detectImageFormat', () => {
  it.each([
    ['vmdk', ['-o', 'subformat=streamOptimized'], 'vmdk-stream-optimized'],
    ['vmdk', ['-o', 'subformat=monolithicSparse'], 'vmdk-monolithic-sparse'],
    ['vpc', ['-o', 'subformat=fixed'], 'vhd-fixed'],
    ['vpc', ['-o', 'subformat=dynamic'], 'vhd-dynamic'],
    ['vhdx', [], 'vhdx'],
    ['qcow2', [], 'qcow2'],
    ['raw', [], 'raw'],
  ])('recognises qemu-img %s %j as %s', async (fmt, extra, expected) => {
    // Prepare
    const raw = join(tmp.dir, 'src.raw');
    await writeSparseRaw(raw, 4 * 1024 * 1024, [{ offset: 0, data: Buffer.from('hello world') }]);
    const out = join(tmp.dir, `out-${expected}`);
    const r = await qemuImg('convert', '-f', 'raw', '-O', fmt, ...extra, raw, out);
    expect(r.stderr).toBe('');
    // Act
    const { head, tail, size } = await headTail(out);
    // Assess
    expect(detectImageFormat(head, size, tail)).toBe(expected);
  });

  it('recognises a VMDK descriptor file', () => {
    const text = Buffer.from('# Disk DescriptorFile\nversion=1\ncreateType="monolithicFlat"\n');
    expect(detectImageFormat(text, text.length)).toBe('vmdk-descriptor');
  });

  it('recognises an OVA (tar whose first entry is .ovf), also with a pax long name, and not a plain tar', async () => {
    const ova = await collect(
      writeTar([
        { name: 'vm.ovf', size: 3, body: [Buffer.from('<a/')] },
        { name: 'disk.vmdk', size: 1, body: [Buffer.from('x')] },
      ]),
    );
    expect(detectImageFormat(ova, ova.length)).toBe('ova');
    const longName = `${'d'.repeat(120)}/${'n'.repeat(120)}.ovf`;
    const ova2 = await collect(writeTar([{ name: longName, size: 1, body: [Buffer.from('x')] }]));
    expect(detectImageFormat(ova2, ova2.length)).toBe('ova');
    const plain = await collect(writeTar([{ name: 'readme.txt', size: 1, body: [Buffer.from('x')] }]));
    expect(detectImageFormat(plain, plain.length)).toBe('raw');
  });
});

function mbr(entries: Array<{ type: number; lba: number; sectors: number; status?: number }>): Buffer {
  const b = Buffer.alloc(1024);
  entries.forEach((e, i) => {
    const o = 446 + i * 16;
    b[o] = e.status ?? 0;
    b[o + 4] = e.type;
    b.writeUInt32LE(e.lba, o + 8);
    b.writeUInt32LE(e.sectors, o + 12);
  });
  b[510] = 0x55;
  b[511] = 0xaa;
  return b;
}

describe('detectPartitionTable', () => {
  it('finds GPT (protective MBR + EFI PART at LBA 1)', () => {
    const b = mbr([{ type: 0xee, lba: 1, sectors: 0xffffffff }]);
    b.write('EFI PART', 512, 'latin1');
    expect(detectPartitionTable(b)).toBe('gpt');
  });
  it('finds MBR with a sane entry', () => {
    expect(detectPartitionTable(mbr([{ type: 0x83, lba: 2048, sectors: 100000, status: 0x80 }]))).toBe('mbr');
  });
  it('says none for a blank disk, a bad status byte, or a boot sector without partitions', () => {
    expect(detectPartitionTable(Buffer.alloc(1024))).toBe('none');
    expect(detectPartitionTable(mbr([{ type: 0x83, lba: 2048, sectors: 10, status: 0x12 }]))).toBe('none');
    expect(detectPartitionTable(mbr([]))).toBe('none');
    expect(detectPartitionTable(Buffer.alloc(100))).toBe('none');
  });
});
