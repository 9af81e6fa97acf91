/**
 * Starts a CommonJS bundle with V8's code cache kept between runs — what Node 22's
 * `module.enableCompileCache()` does, which Node 20 lacks. A program bundle is compiled by V8 on
 * every start (measured here: our conversion bundle adds ~30 ms to Node's own ~35 ms start, most
 * of it compiling and running module code); with the cache that V8 wrote after an earlier run it
 * deserializes the compiled functions instead, including the ones compiled lazily while that run
 * worked. qemu-img, the program ours is compared with, is machine code from the start.
 *
 * Layout: `<name>.cjs` is the bundle, `<name>.launch.cjs` this launcher (bundled from this file),
 * `<name>.cjs.v8cache` the cache. The cache is written at exit when there was none or it did not
 * fit, to a temporary name and renamed, so concurrent runs never read half a cache. It starts with
 * the CRC-32 and byte length of the source it was made from: V8's own check of a cache against its
 * source compares only the length (and its version and flags), so a rebuilt bundle of the same
 * size would otherwise run the old bundle's compiled functions. Any failure to read or write the
 * cache only costs the time it would have saved.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';
import { crc32 } from 'node:zlib';

/** Cache file header: CRC-32 and byte length of the source, little-endian. */
const HEADER = 8;

/** What `runCached` did with the cache: for the launcher's tests. */
export type CacheUse = 'used' | 'written' | 'rejected-rewritten' | 'unavailable';

interface CjsModule {
  exports: unknown;
  filename: string;
  paths: string[];
  loaded: boolean;
}
interface ModuleInternals {
  new (id: string, parent?: unknown): CjsModule;
  wrap(code: string): string;
  _nodeModulePaths(from: string): string[];
}

/** Runs the CommonJS file `bundle` as the main module, with its code cache at `${bundle}.v8cache`. */
export function runCached(bundle: string, onCache?: (use: CacheUse) => void): void {
  const cacheFile = `${bundle}.v8cache`;
  const bytes = readFileSync(bundle);
  const header = Buffer.alloc(HEADER);
  header.writeUInt32LE(crc32(bytes), 0);
  header.writeUInt32LE(bytes.length, 4);
  let file: Buffer | undefined;
  try {
    file = readFileSync(cacheFile);
  } catch {
    file = undefined; // first run, or an unreadable cache: compile as usual
  }
  const fits = file !== undefined && file.length > HEADER && file.subarray(0, HEADER).equals(header);
  const M = Module as unknown as ModuleInternals;
  const script = new Script(M.wrap(bytes.toString('utf8')), {
    filename: bundle,
    ...(fits ? { cachedData: file!.subarray(HEADER) } : {}),
  });
  const use: CacheUse =
    file === undefined ? 'written' : !fits || script.cachedDataRejected ? 'rejected-rewritten' : 'used';
  if (use !== 'used') {
    // at exit, so the cache holds what this run compiled lazily too (the conversion's functions)
    process.once('exit', () => {
      try {
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        writeFileSync(tmp, Buffer.concat([header, script.createCachedData()]));
        renameSync(tmp, cacheFile);
        onCache?.(use);
      } catch {
        onCache?.('unavailable');
      }
    });
  } else onCache?.(use);
  const mod = new M(bundle, undefined);
  mod.filename = bundle;
  mod.paths = M._nodeModulePaths(dirname(bundle));
  const wrapper = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: CjsModule,
    filename: string,
    dirname: string,
  ) => void;
  // the bundle is the main module: require.main and process.argv[1] stay the launcher's
  wrapper.call(mod.exports, mod.exports, createRequire(bundle), mod, bundle, dirname(bundle));
  mod.loaded = true;
}

// Bundled as `<name>.launch.cjs` beside `<name>.cjs`; BG_COMPILE_CACHE_TRACE=1 says what happened.
const self = typeof __filename === 'string' ? __filename : '';
if (self.endsWith('.launch.cjs')) {
  runCached(
    self.replace(/\.launch\.cjs$/, '.cjs'),
    process.env.BG_COMPILE_CACHE_TRACE ? (u) => process.stderr.write(`compile cache: ${u}\n`) : undefined,
  );
}
