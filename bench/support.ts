/**
 * What bench:transfer and bench:windows share: the run itself (a work directory, the embedded
 * deployment on the scaled latencies, `--keep`), the scaled AWS simulator latencies, the 1 GiB
 * test image (a raw disk made here, shipped as a streamOptimized VMDK) and the table printer.
 */
import { createCipheriv } from 'node:crypto';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startEmbedded, type Embedded } from '../infra/local/embedded';
import { GatewayClient } from '../shared/client/api-client';
import { convertImage } from '../shared/images';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const DISK = GiB;
export const SCALE = 100;
/** AWS's fixed latencies (ms), as assumed: what the simulator waits, divided by a scale. */
export const AWS_LATENCY_MS = {
  phaseMs: 30_000,
  importPhaseMs: 120_000,
  snapshotMs: 30_000,
  instanceStartMs: 30_000,
  instanceStopMs: 30_000,
};
export type Latencies = typeof AWS_LATENCY_MS;
const timingAt = (scale: number) =>
  Object.fromEntries(Object.entries(AWS_LATENCY_MS).map(([k, v]) => [k, v / scale])) as Latencies;
export const TIMING = timingAt(SCALE);
/** VM Import's phases in the simulator before `completed`: pending, validating, validated, converting, preparing ami. */
export const IMPORT_PHASES = 5;
/** What a VM Import offload waits for in the cloud: the import's phases, then the instance's start. */
export const importWaits = (t: Latencies) => IMPORT_PHASES * t.importPhaseMs + t.instanceStartMs;

/** Deterministic incompressible bytes (AES-CTR over a fixed key). */
export function randomStream(seed: number) {
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(seed, 0);
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 9), iv);
  return (buf: Buffer) => {
    buf.fill(0);
    cipher.update(buf).copy(buf);
  };
}

/** A deterministic sequence of integers in [0, n). */
export function lcg(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % n;
  };
}

/** The 1 GiB raw disk: MBR with one Linux partition, 256 MiB of data in 1-8 MiB extents. */
async function makeDisk(path: string): Promise<number> {
  const fh = await open(path, 'w');
  try {
    await fh.truncate(DISK);
    const mbr = Buffer.alloc(512);
    mbr[446 + 4] = 0x83; // Linux
    mbr.writeUInt32LE(2048, 446 + 8);
    mbr.writeUInt32LE(DISK / 512 - 2048, 446 + 12);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    await fh.write(mbr, 0, 512, 0);
    const fill = randomStream(1);
    const next = lcg(7);
    let data = 0;
    let at = 8 * MiB;
    const buf = Buffer.alloc(8 * MiB);
    while (data < 256 * MiB) {
      const length = Math.min((1 + next(8)) * MiB, 256 * MiB - data);
      fill(buf);
      await fh.write(buf, 0, length, at);
      data += length;
      at += length + (1 + next(4)) * MiB; // a gap of 1-4 MiB to the next extent
    }
    return data + 512;
  } finally {
    await fh.close();
  }
}

/** The test image `<dir>/disk.vmdk` (streamOptimized) of makeDisk's disk; logs its sizes. */
export async function makeImage(dir: string, log: (line: string) => void): Promise<string> {
  const raw = join(dir, 'disk.raw');
  const dataBytes = await makeDisk(raw);
  const image = join(dir, 'disk.vmdk');
  await convertImage(raw, image, 'vmdk-stream');
  await rm(raw);
  log(
    `image: ${DISK / GiB} GiB disk, ${(dataBytes / MiB).toFixed(1)} MiB of data, VMDK ${((await stat(image)).size / MiB).toFixed(1)} MiB`,
  );
  return image;
}

export const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
export const min = (ms: number) => `${(ms / 60_000).toFixed(1)} min`;

/** Prints a table to stdout: the header, a rule, the rows, columns padded to their widest cell. */
export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  process.stdout.write(`${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
}

export interface BenchRun {
  /** The work directory (kept with --keep). */
  dir: string;
  gw: Embedded;
  client: GatewayClient;
  /** Progress to stderr; the table goes to stdout. */
  log: (line: string) => void;
}

/**
 * Runs a benchmark on the embedded deployment (the scaled latencies, no Azure) in a fresh work
 * directory, and always stops the deployment and removes the directory (unless --keep); an error
 * is printed and sets the exit code.
 */
export function runBench(name: string, body: (run: BenchRun) => Promise<void>): void {
  const main = async () => {
    const { values } = parseArgs({ options: { keep: { type: 'boolean' } } });
    const dir = await mkdtemp(join(tmpdir(), `bg-bench-${name}-`));
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const gw = await startEmbedded({
      stateDir: join(dir, 'state'),
      quiet: true,
      azure: false,
      simTiming: TIMING,
      waitTimeOverrides: 50,
    }).catch(async (err: unknown) => {
      await rm(dir, { recursive: true, force: true });
      throw err;
    });
    try {
      log(`bench:${name} in ${dir} — node ${process.version}`);
      await body({ dir, gw, client: new GatewayClient({ baseUrl: gw.apiUrl, apiKey: gw.apiKey }), log });
    } finally {
      await gw.close();
      if (!values.keep) await rm(dir, { recursive: true, force: true });
    }
  };
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
