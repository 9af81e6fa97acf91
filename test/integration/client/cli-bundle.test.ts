/**
 * `npm run build`'s bundle, run as `npx burstgate` runs it: plain node, no tsx. The build goes to a
 * temporary folder inside dist/ (inside the package: the bundle finds package.json and node_modules
 * by walking up, as it does from dist/). Checks that the entry loads only what dispatching needs
 * (no embedded deployment, no SDK, no node_modules package), that --version, --help and the image
 * commands work from it, and that `up` still starts the embedded deployment from the sources.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, type BuildResult } from '../../../scripts/build';
import { convertImage, describeImage } from '../../../shared/images/convert';
import { pseudoRandom, writeSparseRaw } from '../../helpers/images/fixtures';
import { useTmpDir } from '../../helpers/images/tmp-dir';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const MiB = 1024 * 1024;

const tmp = useTmpDir('bg-cli-bundle-');
let outdir: string;
let built: BuildResult;

beforeAll(async () => {
  await mkdir(join(ROOT, 'dist'), { recursive: true });
  outdir = await mkdtemp(join(ROOT, 'dist', '.test-'));
  built = await buildCli({ outdir });
}, 120_000);
afterAll(async () => {
  if (outdir) await rm(outdir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `node <bundle> ...args` from a folder outside the package, as a user runs it from anywhere;
 * `untilStdout`: Ctrl-C once the output matches.
 */
function bundle(args: string[], opts: { untilStdout?: RegExp } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BURSTGATE_')));
    const child = spawn(process.execPath, [built.entry, ...args], {
      cwd: tmp.dir,
      env: { ...env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      // once: a second Ctrl-C while stopping exits at once (130)
      if (!interrupted && opts.untilStdout?.test(stdout)) interrupted = child.kill('SIGINT');
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the CLI bundle (npm run build)', () => {
  it('is an executable ES module with a node hashbang, and its entry loads only its own small chunks', async () => {
    const source = await readFile(built.entry, 'utf8');
    expect(source.startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect((await stat(built.entry)).mode & 0o111).toBe(0o111);
    // what the entry imports statically, transitively: only chunks of its own and node: builtins
    const seen = new Set<string>();
    const externals = new Set<string>();
    const visit = async (file: string): Promise<void> => {
      if (seen.has(file)) return;
      seen.add(file);
      const code = await readFile(join(outdir, file), 'utf8');
      for (const m of code.matchAll(/^(?:import|export)\s[^;]*?from\s*"([^"]+)";/gms)) {
        const spec = m[1]!;
        if (spec.startsWith('./') || spec.startsWith('../')) {
          await visit(join(file, '..', spec));
        } else {
          externals.add(spec);
        }
      }
      for (const m of code.matchAll(/^import\s*"([^"]+)";/gm)) await visit(join(file, '..', m[1]!));
    };
    await visit('burstgate.js');
    expect([...externals].filter((s) => !s.startsWith('node:'))).toEqual([]);
    const loaded = (await Promise.all([...seen].map((f) => readFile(join(outdir, f), 'utf8')))).join('\n');
    // esbuild names each module in a comment: none of the embedded deployment, no cloud SDK
    const modules = [...loaded.matchAll(/^\/\/ (\S+\.ts)$/gm)].map((m) => m[1]!);
    expect(modules).toContain('bin/burstgate.ts');
    // no embedded deployment, no cloud adapter or store, of the disk-image engine only its error type
    expect(modules.filter((m) => /^(infra|lambdas)\/|^shared\/(clouds|store)\//.test(m))).toEqual([]);
    expect(modules.filter((m) => m.startsWith('shared/images/'))).toEqual(['shared/images/errors.ts']);
    expect(built.files.some((f) => f.startsWith('chunks/offload-'))).toBe(true);
  });

  it('prints the version from package.json and the help, from any folder', async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const v = await bundle(['--version']);
    expect(v).toMatchObject({ code: 0, stdout: `${version}\n` });
    const help = await bundle(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^ {2}offload +upload a VM image/m);
    const ret = await bundle(['return', '--help']);
    expect(ret.stdout).toContain('AWS direct, --mode');
    const usage = await bundle(['frobnicate']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toBe("burstgate: unknown command 'frobnicate'\nrun `burstgate --help` for usage\n");
  });

  it('runs image info and image convert on a small generated image', async () => {
    // Prepare: 24 MiB of raw disk with data at both ends
    const raw = join(tmp.dir, 'disk.img');
    await writeSparseRaw(raw, 24 * MiB, [
      { offset: 0, data: pseudoRandom(300 * 1024, 7) },
      { offset: 24 * MiB - 64 * 1024, data: pseudoRandom(64 * 1024, 8) },
    ]);
    const vmdk = join(tmp.dir, 'disk.vmdk');
    await convertImage(raw, vmdk, 'vmdk-stream');
    const expected = await describeImage(vmdk, { hash: true });

    // Act
    const info = await bundle(['image', 'info', vmdk, '--hash', '--json']);
    const vhd = join(tmp.dir, 'disk.vhd');
    const converted = await bundle(['image', 'convert', vmdk, vhd, '--to', 'vhd-fixed']);

    // Assess
    expect(info.code, info.stderr).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({
      format: 'vmdk-stream-optimized',
      capacity: 24 * MiB,
      sha256: expected.sha256,
    });
    expect(converted.code, converted.stderr).toBe(0);
    expect(converted.stdout).toMatch(/^output size +24\.0 MiB$/m);
    expect((await describeImage(vhd, { hash: true })).sha256).toBe(expected.sha256);
  });

  it('starts the embedded deployment (`up`) from the sources, and stops on Ctrl-C', async () => {
    const stateDir = join(tmp.dir, 'state');
    const up = await bundle(['up', '--state-dir', stateDir, '--port', '0'], {
      untilStdout: /^ {2}API +http/m,
    });
    expect(up.stdout, up.stderr).toContain('burstgate is up');
    expect(up.code, up.stderr).toBe(0);
  }, 120_000);
});
