/** qcow2 fixtures: raw disks generated in code, turned into qcow2 by qemu-img (the reference). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pseudoRandom, qemuImg, rawDisk, writeSparseRaw, type Patch } from './fixtures';

/** Data patches scattered over a disk: random bytes, a compressible run, bytes at the very end. */
export function sparsePatches(capacity: number, seed: number): Patch[] {
  const patches: Patch[] = [];
  if (capacity === 0) return patches;
  let x = seed;
  const next = (n: number): number => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x % n;
  };
  for (let i = 0; i < 12; i++) {
    const length = 1 + next(Math.min(70_000, capacity));
    const offset = next(capacity - length + 1);
    patches.push({ offset, data: pseudoRandom(length, seed * 100 + i) });
  }
  const run = Math.min(40_000, capacity);
  patches.push({ offset: next(capacity - run + 1), data: Buffer.alloc(run, 'burstgate qcow2 ') });
  patches.push({ offset: capacity - 1, data: Buffer.from([0x5a]) });
  return patches;
}

export interface QemuQcow2Options {
  /** '0.10' (version 2) or '1.1' (version 3). */
  compat?: '0.10' | '1.1';
  clusterSize?: number;
  compress?: boolean;
}

/** Writes the raw disk as a sparse file and converts it with qemu-img; returns both paths and the bytes. */
export async function qemuQcow2(
  dir: string,
  name: string,
  capacity: number,
  patches: Patch[],
  opts: QemuQcow2Options = {},
): Promise<{ raw: Buffer; rawPath: string; path: string; file: Buffer }> {
  const rawPath = join(dir, `${name}.raw`);
  const path = join(dir, `${name}.qcow2`);
  await writeSparseRaw(rawPath, capacity, patches);
  const o = [`compat=${opts.compat ?? '1.1'}`, `cluster_size=${opts.clusterSize ?? 65536}`].join(',');
  const args = [
    'convert',
    '-f',
    'raw',
    '-O',
    'qcow2',
    '-o',
    o,
    ...(opts.compress ? ['-c'] : []),
    rawPath,
    path,
  ];
  const r = await qemuImg(...args);
  if (r.code !== 0) throw new Error(`qemu-img ${args.join(' ')} failed: ${r.stderr}`);
  return { raw: rawDisk(capacity, patches), rawPath, path, file: await readFile(path) };
}
