/**
 * Azurite's blob service as the simulator's page-blob store. It runs as a child process (its own
 * event loop and memory; telemetry off, 127.0.0.1 only) with `--skipApiVersionCheck --loose`, in
 * memory or under `location`. The simulator reaches it with the well-known development account key;
 * clients never see Azurite's address: they go through the blob front (blob-front.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import {
  BlobSASPermissions,
  BlobServiceClient,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
  type ContainerClient,
} from '@azure/storage-blob';

import { AzureSimUsageError } from './errors';

const ACCOUNT = 'devstoreaccount1';
// Azurite's documented development key (public, the same in every Azurite install)
const ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const CONTAINER = 'managed';
const START_TIMEOUT_MS = 30_000;

export interface AzuriteStore {
  /** http://127.0.0.1:port/devstoreaccount1 */
  accountUrl: string;
  container: ContainerClient;
  /** Absolute Azurite URL of a blob (or one snapshot of it) with a service SAS appended. */
  signedUrl(blob: string, snapshot?: string): string;
  createPageBlob(blob: string, size: number): Promise<void>;
  snapshot(blob: string): Promise<string>;
  deleteSnapshot(blob: string, snapshot: string): Promise<void>;
  deleteBlob(blob: string): Promise<void>;
  read(blob: string, offset: number, count: number, snapshot?: string): Promise<Buffer>;
  writePages(blob: string, offset: number, data: Buffer): Promise<void>;
  close(): Promise<void>;
}

function azuriteMain(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js');
}

function startProcess(location: string | undefined): Promise<{ child: ChildProcess; url: string }> {
  const args = [
    azuriteMain(),
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    '0',
    '--skipApiVersionCheck',
    '--loose',
    '--disableTelemetry',
    '--silent',
    ...(location ? ['--location', location] : ['--inMemoryPersistence']),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: location });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`azure-sim: Azurite did not start within ${START_TIMEOUT_MS} ms:\n${out}`));
    }, START_TIMEOUT_MS);
    const onData = (c: Buffer) => {
      out += c.toString('utf8');
      const m = /listens on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        // keep draining so a chatty child never blocks on a full pipe
        child.stdout?.resume();
        resolve({ child, url: m[1] });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => {
      out += c.toString('utf8');
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`azure-sim: Azurite exited with code ${String(code)} before listening:\n${out}`));
    });
  });
}

export async function startAzurite(location?: string): Promise<AzuriteStore> {
  const { child, url } = await startProcess(location);
  const accountUrl = `${url}/${ACCOUNT}`;
  const credential = new StorageSharedKeyCredential(ACCOUNT, ACCOUNT_KEY);
  const service = new BlobServiceClient(accountUrl, credential);
  const container = service.getContainerClient(CONTAINER);
  await container.createIfNotExists();
  const sasCache = new Map<string, string>();

  // a snapshot needs its own SAS (sr=bs); a blob SAS (sr=b) does not reach its snapshots
  const sasFor = (blob: string, snapshot?: string): string => {
    const cacheKey = `${blob}@${snapshot ?? ''}`;
    let sas = sasCache.get(cacheKey);
    if (!sas) {
      sas = generateBlobSASQueryParameters(
        {
          containerName: CONTAINER,
          blobName: blob,
          ...(snapshot ? { snapshotTime: snapshot } : {}),
          permissions: BlobSASPermissions.parse('racwd'),
          startsOn: new Date(Date.now() - 3600_000),
          expiresOn: new Date(Date.now() + 30 * 24 * 3600_000),
        },
        credential,
      ).toString();
      sasCache.set(cacheKey, sas);
    }
    return sas;
  };
  const page = (blob: string, snapshot?: string) => {
    const c = container.getPageBlobClient(blob);
    return snapshot ? c.withSnapshot(snapshot) : c;
  };

  return {
    accountUrl,
    container,
    signedUrl(blob, snapshot) {
      const base = `${accountUrl}/${CONTAINER}/${encodeURIComponent(blob)}?${sasFor(blob, snapshot)}`;
      return snapshot ? `${base}&snapshot=${encodeURIComponent(snapshot)}` : base;
    },
    async createPageBlob(blob, size) {
      await page(blob).create(size);
    },
    async snapshot(blob) {
      const r = await page(blob).createSnapshot();
      if (!r.snapshot) throw new Error(`azure-sim: Azurite gave no snapshot time for ${blob}`);
      return r.snapshot;
    },
    async deleteSnapshot(blob, snapshot) {
      await page(blob, snapshot).deleteIfExists();
    },
    async deleteBlob(blob) {
      await page(blob).deleteIfExists({ deleteSnapshots: 'include' });
    },
    async read(blob, offset, count, snapshot) {
      if (count === 0) return Buffer.alloc(0);
      return page(blob, snapshot).downloadToBuffer(offset, count);
    },
    async writePages(blob, offset, data) {
      if (offset % 512 !== 0 || data.length % 512 !== 0)
        throw new AzureSimUsageError(
          `page writes must be 512-aligned (offset ${offset}, ${data.length} bytes)`,
        );
      await page(blob).uploadPages(data, offset, data.length);
    },
    async close() {
      if (child.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        // Azurite closes its server on SIGTERM; a connection it keeps open must not hold us up
        const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        child.kill('SIGTERM');
      });
    },
  };
}
