/**
 * `npm run openapi`: writes openapi.json (the repository root) from the zod schemas
 * (shared/domain/openapi.ts): keys sorted, formatted by the project's prettier settings, so the
 * file is stable and `prettier --check .` accepts it. `npm run openapi:check` (CI) regenerates it
 * in memory and fails when the committed file differs.
 *
 *   npx tsx scripts/openapi.ts [--check]
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as prettier from 'prettier';
import { openApiDocument } from '../shared/domain/openapi';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const OPENAPI_FILE = join(ROOT, 'openapi.json');

/** The text of openapi.json as generated now. */
export async function renderOpenApi(): Promise<string> {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const options = (await prettier.resolveConfig(OPENAPI_FILE)) ?? {};
  return prettier.format(JSON.stringify(openApiDocument(pkg.version), null, 2), {
    ...options,
    filepath: OPENAPI_FILE,
  });
}

/** Differs: the first line that does (1-based), for the message. */
function firstDifference(a: string, b: string): number {
  const x = a.split('\n');
  const y = b.split('\n');
  for (let i = 0; i < Math.max(x.length, y.length); i++) if (x[i] !== y[i]) return i + 1;
  return 0;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
  const text = await renderOpenApi();
  if (!values.check) {
    await writeFile(OPENAPI_FILE, text);
    console.log(`openapi: wrote ${OPENAPI_FILE}`);
    return 0;
  }
  const committed = await readFile(OPENAPI_FILE, 'utf8').catch(() => undefined);
  if (committed === text) {
    console.log('openapi: openapi.json is up to date');
    return 0;
  }
  console.error(
    committed === undefined
      ? 'openapi: openapi.json is missing; run `npm run openapi` and commit it'
      : `openapi: openapi.json differs from what the schemas generate (first at line ${firstDifference(committed, text)}); run \`npm run openapi\` and commit it`,
  );
  return 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
