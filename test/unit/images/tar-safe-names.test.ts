import { describe, expect, it } from 'vitest';
import { bufferSource } from '../../../shared/images/source';
import { indexTar, readTar, unsafeTarName, writeTar } from '../../../shared/images/tar';
import { chunked, collect } from '../../helpers/images/fixtures';

/** A raw ustar header block with a valid checksum. */
function header(name: Buffer, size: number, typeFlag = '0'): Buffer {
  const b = Buffer.alloc(512);
  name.copy(b, 0, 0, Math.min(100, name.length));
  b.write('0000644\0', 100, 'latin1');
  b.write(size.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
  b.write('00000000000\0', 136, 'latin1');
  b.fill(0x20, 148, 156);
  b.write(typeFlag, 156, 'latin1');
  b.write('ustar\0' + '00', 257, 'latin1');
  let sum = 0;
  for (const x of b) sum += x;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return b;
}

function pad(b: Buffer): Buffer {
  return Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
}

/** An archive whose one entry is named by a pax 'path' record (any bytes, NUL included). */
function paxNamed(path: string): Buffer {
  const payload = ` path=${path}\n`;
  let len = Buffer.byteLength(payload) + 1;
  while (len !== Buffer.byteLength(payload) + String(len).length)
    len = Buffer.byteLength(payload) + String(len).length;
  const rec = Buffer.from(`${len}${payload}`);
  return Buffer.concat([
    header(Buffer.from('PaxHeader/x'), rec.length, 'x'),
    pad(rec),
    header(Buffer.from('x'), 1),
    pad(Buffer.from('x')),
    Buffer.alloc(1024),
  ]);
}

async function names(tar: Buffer, opts = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const e of readTar(chunked(tar, 512), opts)) out.push(e.name);
  return out;
}

describe('tar entry names are checked (safeNames, default on)', () => {
  it.each([
    ['../etc/passwd', 'a ".." component'],
    ['a/../../b', 'a ".." component'],
    ['a\\..\\b', 'a ".." component'],
    ['/etc/passwd', 'an absolute path'],
    ['\\\\server\\share', 'an absolute path'],
    ['C:\\Windows\\x', 'an absolute path'],
  ])('%s is refused (%s) by readTar and indexTar', async (name, why) => {
    const tar = await collect(writeTar([{ name, size: 1, body: [Buffer.from('x')] }]));
    await expect(names(tar)).rejects.toMatchObject({
      code: 'BG_TAR_UNSAFE_NAME',
      message: expect.stringContaining(why.replace(/"/g, '"')),
    });
    await expect(indexTar(bufferSource(tar))).rejects.toMatchObject({ code: 'BG_TAR_UNSAFE_NAME' });
    // opting out reads it
    expect(await names(tar, { safeNames: false })).toEqual([name]);
  });

  it('a NUL byte inside a pax path, an empty name and a name over maxNameBytes are refused', async () => {
    await expect(names(paxNamed('a\0b'))).rejects.toMatchObject({ code: 'BG_TAR_UNSAFE_NAME' });
    await expect(indexTar(bufferSource(paxNamed('a\0b')))).rejects.toMatchObject({
      code: 'BG_TAR_UNSAFE_NAME',
    });
    const empty = Buffer.concat([header(Buffer.alloc(0), 0), Buffer.alloc(1024)]);
    await expect(names(empty)).rejects.toMatchObject({ code: 'BG_TAR_UNSAFE_NAME' });
    const long = paxNamed('n'.repeat(300));
    await expect(names(long, { maxNameBytes: 200 })).rejects.toMatchObject({
      code: 'BG_TAR_UNSAFE_NAME',
      message: expect.stringContaining('maxNameBytes'),
    });
    expect(await names(long)).toEqual(['n'.repeat(300)]);
  });

  it('ordinary names pass: ./x, dir/x, names with dots and spaces', async () => {
    for (const n of ['./vm.ovf', 'dir/vm-disk1.vmdk', 'a..b.vmdk', 'My VM (1).ovf', '...']) {
      expect(unsafeTarName(n), n).toBeUndefined();
    }
    const tar = await collect(writeTar([{ name: './vm.ovf', size: 0, body: [] }]));
    expect(await names(tar)).toEqual(['./vm.ovf']);
  });
});
