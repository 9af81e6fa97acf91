/**
 * Where the package is, found from this module's own location: it runs from bin/support/ (the
 * TypeScript sources, through tsx) or from a chunk of the bundle in dist/, so no fixed number of
 * `..` fits both.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

let root: string | undefined;

/** The folder of burstgate's package.json. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && readName(manifest) === 'burstgate') return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error(`no burstgate package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

function readName(manifest: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name;
  } catch {
    return undefined;
  }
}

export function packageVersion(): string {
  try {
    const manifest = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as {
      version?: string;
    };
    return manifest.version ?? '?';
  } catch {
    return '?';
  }
}

/**
 * Imports a module of the embedded deployment (`up`, `demo`) from the TypeScript sources, e.g.
 * `infra/local/demo.ts`. The embedded deployment hosts the Lambda handlers by their entry files
 * (the .ts files under lambdas/ that the CDK stack names), so it runs from the sources even when
 * the CLI runs from the bundle: then tsx is registered first, and everything the deployment loads
 * (its own modules, the handlers, shared/) is one module graph compiled by tsx.
 */
export async function importFromSources<T>(relativePath: string): Promise<T> {
  if (!import.meta.url.endsWith('.ts')) {
    const { register } = await import('tsx/esm/api');
    register();
  }
  return (await import(pathToFileURL(join(packageRoot(), relativePath)).href)) as T;
}
