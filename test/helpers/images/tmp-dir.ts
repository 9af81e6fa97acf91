/** A temporary directory for the tests of one file: made in beforeAll, removed in afterAll. */
import { afterAll, beforeAll } from 'vitest';
import { makeTmpDir } from './fixtures';

/**
 * Registers the hooks that make and remove a temporary directory (see `makeTmpDir`); call it at the
 * top of a test file. `dir` may be read from beforeAll hooks registered after this call, and in tests.
 */
export function useTmpDir(prefix?: string): { readonly dir: string } {
  let tmp: Awaited<ReturnType<typeof makeTmpDir>> | undefined;
  beforeAll(async () => {
    tmp = await makeTmpDir(prefix);
  });
  afterAll(async () => {
    await tmp?.cleanup();
  });
  return {
    get dir(): string {
      if (!tmp) throw new Error('useTmpDir: the directory is made in beforeAll');
      return tmp.dir;
    },
  };
}
