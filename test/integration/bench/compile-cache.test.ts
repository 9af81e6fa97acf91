import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const LAUNCHER_SOURCE = resolve(__dirname, '../../../bench/compile-cache.ts');

/** A program whose output shows which source ran and what it was given. */
const program = (version: number) =>
  `const lib = require('node:path');\n` +
  `console.log(JSON.stringify({ version: ${version}, args: process.argv.slice(2), base: lib.basename(__filename), doubled: [1, 2, 3].map((x) => x * 2) }));\n`;

describe('compile-cache launcher (bench/compile-cache.ts)', () => {
  let dir: string;
  let launcher: string;
  let bundle: string;

  const launch = (...args: string[]) => {
    const r = spawnSync(process.execPath, [launcher, ...args], {
      encoding: 'utf8',
      env: { ...process.env, BG_COMPILE_CACHE_TRACE: '1' },
    });
    return { status: r.status, out: JSON.parse(r.stdout) as Record<string, unknown>, trace: r.stderr.trim() };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bg-compile-cache-'));
    launcher = join(dir, 'prog.launch.cjs');
    bundle = join(dir, 'prog.cjs');
    await build({
      entryPoints: [LAUNCHER_SOURCE],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      outfile: launcher,
      logLevel: 'error',
    });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the cache at the first exit and runs from it afterwards, with the same results', async () => {
    // Prepare
    await writeFile(bundle, program(1));
    await rm(`${bundle}.v8cache`, { force: true });

    // Act
    const first = launch('a', 'b c');
    const cacheBytes = (await stat(`${bundle}.v8cache`)).size;
    const second = launch('a', 'b c');

    // Assess
    expect(first).toEqual({
      status: 0,
      out: { version: 1, args: ['a', 'b c'], base: 'prog.cjs', doubled: [2, 4, 6] },
      trace: 'compile cache: written',
    });
    expect(cacheBytes).toBeGreaterThan(8);
    expect(second).toEqual({ ...first, trace: 'compile cache: used' });
  });

  it('does not run a cache made from another bundle of the same length', async () => {
    // Prepare: a cache of version 1, then a rebuilt bundle of exactly the same size
    await writeFile(bundle, program(1));
    await rm(`${bundle}.v8cache`, { force: true });
    launch();
    await writeFile(bundle, program(2));
    expect((await readFile(bundle)).length).toBe(program(1).length);

    // Act
    const rebuilt = launch('x');
    const again = launch('x');

    // Assess: the new source ran, and the cache was made anew from it
    expect(rebuilt.out.version).toBe(2);
    expect(rebuilt.trace).toBe('compile cache: rejected-rewritten');
    expect(again.out.version).toBe(2);
    expect(again.trace).toBe('compile cache: used');
  });

  it('still runs the program when the cache can be neither read nor written', async () => {
    // Prepare: a directory where the cache file would go
    await writeFile(bundle, program(3));
    await rm(`${bundle}.v8cache`, { recursive: true, force: true });
    await mkdir(`${bundle}.v8cache`);

    // Act
    const r = launch('y');

    // Assess
    expect(r.status).toBe(0);
    expect(r.out).toEqual({ version: 3, args: ['y'], base: 'prog.cjs', doubled: [2, 4, 6] });
    expect(r.trace).toBe('compile cache: unavailable');
  });
});
