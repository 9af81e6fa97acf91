/**
 * The committed sample VM (test/fixtures/sample-vm/burstgate-sample.ova, built by
 * scripts/build-sample-vm.sh) is what the e2e tests offload. Check it is what it claims to be,
 * with the reference tools: qemu-img (Debian qemu-utils) and debugfs (e2fsprogs).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../helpers/bytes';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const DIR = join(ROOT, 'test', 'fixtures', 'sample-vm');
const OVA = join(DIR, 'burstgate-sample.ova');
const MiB = 1024 * 1024;
const SECTOR = 512;

function tool(cmd: string, args: string[]): string {
  const PATH = `${process.env.PATH ?? ''}:/usr/sbin:/sbin`;
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', env: { ...process.env, PATH }, stdio: 'pipe' });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`${cmd} is not installed (Debian: qemu-utils / e2fsprogs)`);
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

interface TarEntry {
  name: string;
  type: string;
  data: Buffer;
}

/** A minimal ustar reader: enough to check the OVA's order and content. */
function readTar(buf: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  let off = 0;
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const str = (a: number, n: number): string => h.toString('latin1', a, a + n).replace(/\0.*$/s, '');
    expect(str(257, 6)).toBe('ustar');
    const size = parseInt(str(124, 12).trim(), 8);
    const prefix = str(345, 155);
    const name = prefix ? `${prefix}/${str(0, 100)}` : str(0, 100);
    entries.push({ name, type: str(156, 1) || '0', data: buf.subarray(off + 512, off + 512 + size) });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return entries;
}

function sums(): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of readFileSync(join(DIR, 'SHA256SUMS'), 'utf8').split('\n')) {
    const match = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line);
    if (match) m.set(match[2]!, match[1]!);
  }
  return m;
}

describe('sample VM fixture', () => {
  let work: string;
  let entries: TarEntry[];
  let vmdkPath: string;
  let raw: Buffer;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'bg-sample-'));
    entries = readTar(readFileSync(OVA));
    const vmdk = entries.find((e) => e.name.endsWith('.vmdk'));
    if (!vmdk) throw new Error('no .vmdk in the OVA');
    vmdkPath = join(work, vmdk.name);
    writeFileSync(vmdkPath, vmdk.data);
    tool('qemu-img', ['convert', '-f', 'vmdk', '-O', 'raw', vmdkPath, join(work, 'disk.raw')]);
    raw = readFileSync(join(work, 'disk.raw'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('is small enough to commit and matches SHA256SUMS', () => {
    const ova = readFileSync(OVA);
    expect(ova.length).toBeLessThan(2 * MiB);
    expect(sha256(ova)).toBe(sums().get('burstgate-sample.ova'));
  });

  it('is a ustar archive: descriptor first, then the disk, then the manifest', () => {
    expect(entries.map((e) => [e.name, e.type])).toEqual([
      ['burstgate-sample.ovf', '0'],
      ['burstgate-sample-disk1.vmdk', '0'],
      ['burstgate-sample.mf', '0'],
    ]);
  });

  it('has a manifest whose SHA256 lines match the descriptor and the disk', () => {
    const mf = entries.find((e) => e.name.endsWith('.mf'))!.data.toString('utf8');
    const lines = mf.trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      const m = /^SHA256\((.+)\)= ([0-9a-f]{64})$/.exec(line);
      expect(m, line).not.toBeNull();
      const entry = entries.find((e) => e.name === m![1]);
      expect(entry, `manifest names ${m![1]}`).toBeDefined();
      expect(sha256(entry!.data)).toBe(m![2]);
    }
  });

  it('describes one VM: 1 vCPU, 512 MiB, BIOS, one 64 MiB streamOptimized disk on lsilogic, one E1000 NIC', () => {
    const ovf = entries[0]!.data.toString('utf8');
    const vmdk = entries[1]!;
    expect(ovf).toContain('xmlns="http://schemas.dmtf.org/ovf/envelope/1"');
    expect(ovf).toMatch(/<VirtualSystem ovf:id="burstgate-sample">/);
    expect(ovf).toContain(`<File ovf:href="${vmdk.name}" ovf:id="file1" ovf:size="${vmdk.data.length}"/>`);
    expect(ovf).toMatch(/ovf:capacity="64" ovf:capacityAllocationUnits="byte \* 2\^20"/);
    expect(ovf).toContain(
      'ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"',
    );
    const items = [...ovf.matchAll(/<Item>([\s\S]*?)<\/Item>/g)].map((m) => m[1]!);
    const byType = (t: number): string[] => items.filter((i) => i.includes(`<rasd:ResourceType>${t}<`));
    expect(byType(3)).toHaveLength(1);
    expect(byType(3)[0]).toContain('<rasd:VirtualQuantity>1<');
    expect(byType(4)[0]).toContain('<rasd:VirtualQuantity>512<');
    expect(byType(4)[0]).toContain('<rasd:AllocationUnits>byte * 2^20<');
    expect(byType(6)[0]).toContain('<rasd:ResourceSubType>lsilogic<');
    expect(byType(17)).toHaveLength(1);
    expect(byType(10)).toHaveLength(1);
    expect(byType(10)[0]).toContain('<rasd:ResourceSubType>E1000<');
    expect(byType(10)[0]).toContain('<rasd:Connection>VM Network<');
    expect(ovf).toContain('<Network ovf:name="VM Network">');
    expect(ovf).toContain('vmw:key="firmware" vmw:value="bios"');
  });

  it('holds a streamOptimized VMDK, header version 3, 64 MiB, that qemu-img checks clean', () => {
    const header = entries[1]!.data;
    expect(header.toString('latin1', 0, 4)).toBe('KDMV');
    expect(header.readUInt32LE(4)).toBe(3); // ESXi rejects streamOptimized below version 3
    const info = JSON.parse(tool('qemu-img', ['info', '--output=json', '-f', 'vmdk', vmdkPath])) as {
      format: string;
      'virtual-size': number;
      'format-specific': { data: { 'create-type': string } };
    };
    expect(info.format).toBe('vmdk');
    expect(info['format-specific'].data['create-type']).toBe('streamOptimized');
    expect(info['virtual-size']).toBe(64 * MiB);
    expect(tool('qemu-img', ['check', '-f', 'vmdk', vmdkPath])).toContain('No errors were found');
  });

  it('converts to the raw disk whose SHA-256 is recorded in SHA256SUMS', () => {
    expect(raw.length).toBe(64 * MiB);
    expect(sha256(raw)).toBe(sums().get('burstgate-sample-disk1.raw'));
  });

  it('has a valid GPT with one 1 MiB-aligned Linux partition', () => {
    expect(raw[450]).toBe(0xee); // protective MBR
    expect(raw.readUInt16LE(510)).toBe(0xaa55);
    const primary = raw.subarray(SECTOR, 2 * SECTOR);
    expect(primary.toString('latin1', 0, 8)).toBe('EFI PART');
    const checkHeader = (h: Buffer, current: bigint, entriesLba: bigint): void => {
      const copy = Buffer.from(h.subarray(0, 92));
      copy.writeUInt32LE(0, 16);
      expect(h.readUInt32LE(16)).toBe(crc32(copy));
      expect(h.readBigUInt64LE(24)).toBe(current);
      expect(h.readBigUInt64LE(72)).toBe(entriesLba);
      const table = raw.subarray(Number(entriesLba) * SECTOR, Number(entriesLba) * SECTOR + 128 * 128);
      expect(h.readUInt32LE(88)).toBe(crc32(table));
    };
    const lastLba = BigInt(raw.length / SECTOR - 1);
    checkHeader(primary, 1n, 2n);
    const backup = raw.subarray(raw.length - SECTOR);
    expect(backup.toString('latin1', 0, 8)).toBe('EFI PART');
    checkHeader(backup, lastLba, lastLba - 32n);
    const entry = raw.subarray(2 * SECTOR, 2 * SECTOR + 128);
    // 0FC63DAF-8483-4772-8E79-3D69D8477DE4 in GPT's mixed-endian layout
    expect(entry.subarray(0, 16).toString('hex')).toBe('af3dc60f838472478e793d69d8477de4');
    const first = Number(entry.readBigUInt64LE(32));
    const last = Number(entry.readBigUInt64LE(40));
    expect((first * SECTOR) % MiB).toBe(0);
    expect(((last + 1) * SECTOR) % MiB).toBe(0);
    expect(raw.subarray(2 * SECTOR + 128, 2 * SECTOR + 256).every((b) => b === 0)).toBe(true); // one partition
  });

  it('has an ext4 filesystem in the partition, with /etc/hostname = burstgate-sample', () => {
    const entry = raw.subarray(2 * SECTOR, 2 * SECTOR + 128);
    const start = Number(entry.readBigUInt64LE(32)) * SECTOR;
    const end = (Number(entry.readBigUInt64LE(40)) + 1) * SECTOR;
    expect(raw.readUInt16LE(start + 1024 + 56)).toBe(0xef53);
    const part = join(work, 'part.ext4');
    writeFileSync(part, raw.subarray(start, end));
    expect(tool('debugfs', ['-R', 'cat /etc/hostname', part])).toBe('burstgate-sample\n');
    expect(tool('debugfs', ['-R', 'cat /etc/os-release', part])).toContain('ID=burstgate-sample');
    const pattern = tool('debugfs', ['-R', 'stat /opt/burstgate/pattern.bin', part]);
    expect(pattern).toContain('Size: 49152');
  });

  it('is reproducible: rebuilding with scripts/build-sample-vm.sh gives the same bytes', () => {
    const out = execFileSync(join(ROOT, 'scripts', 'build-sample-vm.sh'), ['--check'], {
      encoding: 'utf8',
      stdio: 'pipe',
    });
    expect(out).toContain('byte-identical');
  });
});
