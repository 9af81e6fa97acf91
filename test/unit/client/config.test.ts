import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveGateway } from '../../../shared/client/config';
import { checkImageFile, formatFromExtension, vmNameFromPath } from '../../../shared/client/image-file';

const dir = mkdtempSync(join(tmpdir(), 'bg-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('resolveGateway', () => {
  const state = join(dir, 'state');
  mkdirSync(state);
  writeFileSync(join(state, 'api-url'), 'http://127.0.0.1:4510\n');
  writeFileSync(join(state, 'api-key'), '  file-key \n');

  it('prefers flags, then the environment, then the state directory files', async () => {
    const env = { BURSTGATE_GATEWAY: 'http://env:1', BURSTGATE_API_KEY: 'env-key' };
    expect(
      await resolveGateway({ gateway: 'http://flag:1', apiKey: 'flag-key', env, stateDir: state }),
    ).toMatchObject({
      baseUrl: 'http://flag:1',
      apiKey: 'flag-key',
      from: { baseUrl: '--gateway', apiKey: '--api-key' },
    });
    expect(await resolveGateway({ env, stateDir: state })).toMatchObject({
      baseUrl: 'http://env:1',
      apiKey: 'env-key',
    });
    expect(await resolveGateway({ env: {}, stateDir: state })).toEqual({
      baseUrl: 'http://127.0.0.1:4510',
      apiKey: 'file-key',
      from: { baseUrl: join(state, 'api-url'), apiKey: join(state, 'api-key') },
    });
    // mixed: URL from the flag, key from the file
    expect(await resolveGateway({ gateway: 'http://flag:1', env: {}, stateDir: state })).toMatchObject({
      apiKey: 'file-key',
    });
  });

  it('says how to configure what is missing', async () => {
    const empty = join(dir, 'empty');
    await expect(resolveGateway({ env: {}, stateDir: empty })).rejects.toThrow(
      /no gateway URL: pass --gateway URL, set BURSTGATE_GATEWAY, or start the embedded gateway with `burstgate up`/,
    );
    await expect(resolveGateway({ gateway: 'http://x:1', env: {}, stateDir: empty })).rejects.toThrow(
      /no API key for http:\/\/x:1: pass --api-key KEY, set BURSTGATE_API_KEY/,
    );
  });
});

describe('image files', () => {
  it('knows formats by extension', () => {
    expect(formatFromExtension('a/b/vm.OVA')).toBe('ova');
    expect(formatFromExtension('disk.vmdk')).toBe('vmdk');
    expect(formatFromExtension('disk.vhd')).toBe('vhd');
    expect(formatFromExtension('disk.img')).toBe('raw');
    expect(formatFromExtension('disk.raw')).toBe('raw');
    expect(formatFromExtension('disk.qcow2')).toBeUndefined();
  });

  it('makes a VM name the gateway accepts from the file name', () => {
    expect(vmNameFromPath('/x/burstgate-sample.ova')).toBe('burstgate-sample');
    expect(vmNameFromPath('/x/_my vm (copy)#2.vmdk')).toBe('my vm -copy-2');
    expect(vmNameFromPath('/x/@@@.img')).toBe('vm');
  });

  it('checks the file exists, is a file and is not empty, naming the path', async () => {
    writeFileSync(join(dir, 'ok.img'), 'x');
    writeFileSync(join(dir, 'empty.img'), '');
    expect(await checkImageFile(join(dir, 'ok.img'))).toEqual({ path: join(dir, 'ok.img'), sizeBytes: 1 });
    await expect(checkImageFile(join(dir, 'missing.ova'))).rejects.toThrow(
      `${join(dir, 'missing.ova')}: no such file`,
    );
    await expect(checkImageFile(dir)).rejects.toThrow(`${dir} is a directory`);
    await expect(checkImageFile(join(dir, 'empty.img'))).rejects.toThrow('is empty');
  });
});
