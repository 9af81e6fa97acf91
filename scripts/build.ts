/**
 * `npm run build`: bundles the CLI (bin/burstgate.ts) into dist/ with esbuild, the package's `bin`.
 * Plain JavaScript starts without tsx's compile step. Packages in node_modules stay imports (they
 * are the package's dependencies); each command module becomes a chunk of its own, loaded by the
 * entry's dynamic import() only when that command runs.
 *
 *   npx tsx scripts/build.ts [--outdir DIR]     (default dist/)
 */
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const NODE_HASHBANG = '#!/usr/bin/env node';

/** The bundle's entry, relative to the output folder. */
export const CLI_BUNDLE = 'burstgate.js';

export interface BuildResult {
  /** The entry's absolute path. */
  entry: string;
  /** Every file written, relative to the output folder. */
  files: string[];
}

export async function buildCli(opts: { outdir?: string } = {}): Promise<BuildResult> {
  const outdir = resolve(ROOT, opts.outdir ?? 'dist');
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { burstgate: 'bin/burstgate.ts' },
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // dependencies are imported from node_modules as they are: nothing to bundle, nothing loaded early
    packages: 'external',
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  const entry = join(outdir, CLI_BUNDLE);
  // esbuild keeps the source's hashbang (tsx, for running bin/burstgate.ts itself); the bundle runs
  // on node. One line for one line, so the source map stays right.
  const code = await readFile(entry, 'utf8');
  if (!code.startsWith('#!')) throw new Error(`${entry} does not start with bin/burstgate.ts's hashbang`);
  await writeFile(entry, `${NODE_HASHBANG}${code.slice(code.indexOf('\n'))}`);
  await chmod(entry, 0o755);
  const files = Object.keys(result.metafile.outputs).map((f) => relative(outdir, resolve(ROOT, f)));
  return { entry, files };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { outdir: { type: 'string' } } });
  const started = Date.now();
  buildCli(values.outdir !== undefined ? { outdir: values.outdir } : {}).then(
    ({ entry, files }) => {
      const chunks = files.filter((f) => f.endsWith('.js')).length;
      process.stdout.write(
        `built ${relative(process.cwd(), entry)} (${chunks} file(s) of JavaScript) in ${Date.now() - started} ms\n`,
      );
    },
    (e: unknown) => {
      process.stderr.write(`build: ${(e as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
