/**
 * fetchReturnedImage (shared/client/returned-image.ts) on its own, for what the CLI tests cannot
 * reach in process: an abort in the middle of a delta download, a base that is the output, and a
 * delta of changes without its base (failing before any request).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayClientError } from '../../../shared/client/errors';
import { fetchReturnedImage } from '../../../shared/client/returned-image';
import type { JobDownload } from '../../../shared/client/types';
import { useTmpDir } from '../../helpers/images/tmp-dir';
import { startServer, type TestServer } from '../../helpers/http-server';

const tmp = useTmpDir('bg-returned-image-');
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const SIZE = 1024 * 1024;

function deltaDownload(url: string): JobDownload {
  return {
    url,
    expiresAt: '2099-01-01T00:00:00Z',
    format: 'delta',
    sizeBytes: SIZE,
    sha256: 'a'.repeat(64),
    diskSha256: 'b'.repeat(64),
    matchesOriginal: false,
  };
}

describe('fetchReturnedImage', () => {
  it('leaves neither output nor temporary file when aborted in the middle of a delta download', async () => {
    // Prepare: storage sends the first 64 KiB of 1 MiB, then stalls until the client goes away
    server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-length': SIZE });
      res.write(Buffer.alloc(64 * 1024, 7));
    });
    const ac = new AbortController();
    const out = join(tmp.dir, 'aborted.vmdk');
    // Act
    const outcome = await fetchReturnedImage({
      jobId: 'job-1',
      vmName: 'app01',
      download: deltaDownload(`${server.url}/s3/job-1/app01.bgdelta?X-Amz-Signature=secret`),
      out,
      to: 'vmdk-stream',
      // no base hash to check (the download names none), so the download starts at once
      base: join(tmp.dir, 'base-not-read-before-the-download.vmdk'),
      signal: ac.signal,
      onProgress: (phase, done) => {
        if (phase === 'download' && done > 0) ac.abort(new Error('user pressed Ctrl-C'));
      },
    }).then(
      () => 'finished',
      (e: unknown) => (e as Error).name,
    );
    // Assess: an AbortError, which the CLI reports as exit 130
    expect(outcome).toBe('AbortError');
    expect(await readdir(tmp.dir)).toEqual([]);
  });

  it('refuses a base that is the output itself, before fetching anything', async () => {
    // Prepare
    let requests = 0;
    server = await startServer((_req, res) => {
      requests++;
      res.end();
    });
    const same = join(tmp.dir, 'vm.vmdk');
    // Act
    const err = await fetchReturnedImage({
      jobId: 'job-1',
      vmName: 'app01',
      download: deltaDownload(`${server.url}/x`),
      out: same,
      to: 'vmdk-stream',
      base: same,
    }).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(GatewayClientError);
    expect((err as GatewayClientError).kind).toBe('wrong-base');
    expect((err as GatewayClientError).message).toContain(`${same} is both the base and the output`);
    expect(requests).toBe(0);
  });

  it('says a delta of changes (one naming its base) needs the base when none is given', async () => {
    const err = (await fetchReturnedImage({
      jobId: 'job-9',
      vmName: 'app01',
      download: { ...deltaDownload('http://127.0.0.1:9/x'), baseDiskSha256: 'c'.repeat(64) },
      out: join(tmp.dir, 'x.vmdk'),
      to: 'vmdk-stream',
    }).catch((e: unknown) => e)) as GatewayClientError;
    expect(err.kind).toBe('base-required');
    expect(err.message).toMatch(
      /^job job-9 came back as a delta .*pass the image that was offloaded as --base/,
    );
  });
});
