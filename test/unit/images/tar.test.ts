import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTar, writeTar, type TarEntry } from '../../../shared/images/tar';
import { chunked, collect, fileChunks, join, makeTmpDir, pseudoRandom } from '../../helpers/images/fixtures';

const run = promisify(execFile);
let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  tmp = await makeTmpDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

async function readAllEntries(
  input: AsyncIterable<Buffer>,
): Promise<Array<Omit<TarEntry, 'body'> & { data: Buffer }>> {
  const out: Array<Omit<TarEntry, 'body'> & { data: Buffer }> = [];
  for await (const e of readTar(input)) {
    const { body, ...rest } = e;
    out.push({ ...rest, data: await collect(body) });
  }
  return out;
}

describe('tar', () => {
  it('reads what GNU tar writes in pax format, including long names, with 1-byte chunks', async () => {
    // Prepare
    const src = join(tmp.dir, 'src');
    const longDir = 'd'.repeat(150);
    const longFile = `${'f'.repeat(130)}.vmdk`;
    await mkdir(join(src, longDir), { recursive: true });
    await writeFile(join(src, 'a.ovf'), '<Envelope/>');
    await writeFile(join(src, longDir, longFile), pseudoRandom(1500, 7));
    await writeFile(join(src, 'empty.txt'), '');
    const archive = join(tmp.dir, 'pax.tar');
    await run('tar', [
      '--format=pax',
      '-cf',
      archive,
      '-C',
      src,
      'a.ovf',
      `${longDir}/${longFile}`,
      'empty.txt',
    ]);
    const bytes = await readFile(archive);
    // Act
    const entries = await readAllEntries(chunked(bytes, 1));
    // Assess
    expect(entries.map((e) => [e.name, e.type, e.size])).toEqual([
      ['a.ovf', 'file', 11],
      [`${longDir}/${longFile}`, 'file', 1500],
      ['empty.txt', 'file', 0],
    ]);
    expect(entries[1]!.data.equals(pseudoRandom(1500, 7))).toBe(true);
  });

  it('reads GNU long names (L entries) and directories', async () => {
    const src = join(tmp.dir, 'gnu');
    const longName = `${'x'.repeat(200)}.txt`;
    await mkdir(join(src, 'sub'), { recursive: true });
    await writeFile(join(src, 'sub', longName), 'hello');
    const archive = join(tmp.dir, 'gnu.tar');
    await run('tar', ['--format=gnu', '-cf', archive, '-C', src, 'sub']);
    const entries = await readAllEntries(fileChunks(archive, 100));
    expect(entries.map((e) => [e.name, e.type])).toEqual([
      ['sub/', 'directory'],
      [`sub/${longName}`, 'file'],
    ]);
    expect(entries[1]!.data.toString()).toBe('hello');
  });

  it('skips bodies the consumer does not read', async () => {
    const tar = await collect(
      writeTar([
        { name: 'one', size: 3000, body: [pseudoRandom(3000, 1)] },
        { name: 'two', size: 2, body: [Buffer.from('ok')] },
      ]),
    );
    const names: string[] = [];
    let second = '';
    for await (const e of readTar(chunked(tar, 700))) {
      names.push(e.name);
      if (e.name === 'two') second = (await collect(e.body)).toString();
    }
    expect(names).toEqual(['one', 'two']);
    expect(second).toBe('ok');
  });

  it('writes archives GNU tar extracts, with long names (pax) and exact sizes', async () => {
    // Prepare
    const longName = `${'n'.repeat(120)}/${'m'.repeat(110)}/${'z'.repeat(101)}.bin`;
    const data = pseudoRandom(10_000, 3);
    // Act
    const tar = await collect(
      writeTar([
        { name: 'vm.ovf', size: 5, body: [Buffer.from('<a/>\n')] },
        { name: longName, size: data.length, body: chunked(data, 999) },
      ]),
    );
    const archive = join(tmp.dir, 'ours.tar');
    await writeFile(archive, tar);
    const out = join(tmp.dir, 'extract');
    await mkdir(out);
    await run('tar', ['-xf', archive, '-C', out]);
    // Assess
    expect(tar.length % 512).toBe(0);
    expect((await readFile(join(out, 'vm.ovf'))).toString()).toBe('<a/>\n');
    expect((await readFile(join(out, longName))).equals(data)).toBe(true);
    const { stdout } = await run('tar', ['-tvf', archive]);
    expect(stdout).toContain('vm.ovf');
  });

  it('rejects a body shorter or longer than the declared size', async () => {
    await expect(collect(writeTar([{ name: 'a', size: 10, body: [Buffer.alloc(5)] }]))).rejects.toMatchObject(
      {
        code: 'BG_TAR_SIZE_MISMATCH',
      },
    );
    await expect(collect(writeTar([{ name: 'a', size: 1, body: [Buffer.alloc(5)] }]))).rejects.toMatchObject({
      code: 'BG_TAR_SIZE_MISMATCH',
    });
  });

  it('rejects truncated archives, bad checksums and oversized metadata with typed errors', async () => {
    // Prepare
    const tar = await collect(writeTar([{ name: 'file.bin', size: 2000, body: [pseudoRandom(2000, 5)] }]));
    const drain = async (b: Buffer, opts = {}) => {
      for await (const e of readTar(chunked(b, 512), opts)) await collect(e.body);
    };
    // Act + Assess
    for (const cut of [0, 100, 512, 1000, 2559, 2560]) {
      await expect(drain(tar.subarray(0, cut)), `cut at ${cut}`).rejects.toMatchObject({
        code: 'BG_IMAGE_TRUNCATED',
      });
    }
    const bad = Buffer.from(tar);
    bad[10] = 0x41;
    await expect(drain(bad)).rejects.toMatchObject({ code: 'BG_TAR_BAD_HEADER' });
    const pax = await collect(writeTar([{ name: `${'q'.repeat(300)}`, size: 1, body: [Buffer.from('x')] }]));
    await expect(drain(pax, { maxMetaBytes: 100 })).rejects.toMatchObject({ code: 'BG_TAR_LIMIT' });
    await expect(drain(tar, { maxEntryBytes: 1000 })).rejects.toMatchObject({ code: 'BG_TAR_LIMIT' });
    await expect(drain(tar, { maxEntries: 0 })).rejects.toMatchObject({ code: 'BG_TAR_LIMIT' });
  });
});
