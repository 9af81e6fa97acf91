import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUp } from '../../../infra/local/cli-up';

describe('burstgate up (runUp)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bg-up-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints where the gateway is, serves it until stopped, then cleans up after itself', async () => {
    // Prepare
    const lines: string[] = [];
    const stop = new AbortController();
    const listeners = process.listenerCount('SIGINT');
    let seen: { apiUrl: string; apiKey: string; urlFile: string; status: number } | undefined;
    // Act
    await runUp({
      stateDir: dir,
      signal: stop.signal,
      out: (line) => lines.push(line),
      onReady: async (gw) => {
        const res = await fetch(`${gw.apiUrl}/offloads`, {
          headers: { authorization: `Bearer ${gw.apiKey}` },
        });
        seen = {
          apiUrl: gw.apiUrl,
          apiKey: gw.apiKey,
          urlFile: (await readFile(join(dir, 'api-url'), 'utf8')).trim(),
          status: res.status,
        };
        stop.abort();
      },
    });
    // Assess
    expect(seen?.status).toBe(200);
    expect(seen?.urlFile).toBe(seen?.apiUrl);
    expect(lines.join('\n')).toContain(seen!.apiUrl);
    expect(lines.join('\n')).toContain(seen!.apiKey);
    expect(lines.join('\n')).toContain(dir);
    expect(lines.at(-1)).toBe('stopped.');
    expect(existsSync(join(dir, 'api-url'))).toBe(false);
    expect((await readFile(join(dir, 'api-key'), 'utf8')).trim()).toBe(seen!.apiKey);
    expect(process.listenerCount('SIGINT')).toBe(listeners);
  });
});
