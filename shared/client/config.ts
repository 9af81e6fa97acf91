/**
 * Where the gateway is and which API key to use: flags first, then the environment
 * (BURSTGATE_GATEWAY, BURSTGATE_API_KEY), then the embedded deployment's files in the state
 * directory (`.burstgate/api-url`, `.burstgate/api-key`, written by `burstgate up`).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { GatewayClientError } from './errors';

export const DEFAULT_STATE_DIR = '.burstgate';

export interface GatewaySettings {
  baseUrl: string;
  apiKey: string;
  /** Where each came from, for messages: `--gateway`, `BURSTGATE_GATEWAY`, or a file path. */
  from: { baseUrl: string; apiKey: string };
}

export interface ResolveGatewayOptions {
  gateway?: string | undefined;
  apiKey?: string | undefined;
  stateDir?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    return text || undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new GatewayClientError('config', `cannot read ${path}: ${(err as Error).message}`);
  }
}

export async function resolveGateway(opts: ResolveGatewayOptions = {}): Promise<GatewaySettings> {
  const env = opts.env ?? process.env;
  const stateDir = resolve(opts.cwd ?? process.cwd(), opts.stateDir ?? DEFAULT_STATE_DIR);
  const urlFile = resolve(stateDir, 'api-url');
  const keyFile = resolve(stateDir, 'api-key');

  let baseUrl: string | undefined;
  let urlFrom = '';
  if (opts.gateway) [baseUrl, urlFrom] = [opts.gateway, '--gateway'];
  else if (env.BURSTGATE_GATEWAY) [baseUrl, urlFrom] = [env.BURSTGATE_GATEWAY, 'BURSTGATE_GATEWAY'];
  else {
    baseUrl = await readTrimmed(urlFile);
    urlFrom = urlFile;
  }
  if (!baseUrl) {
    throw new GatewayClientError(
      'config',
      `no gateway URL: pass --gateway URL, set BURSTGATE_GATEWAY, or start the embedded gateway with \`burstgate up\` ` +
        `(it writes ${urlFile})`,
    );
  }

  let apiKey: string | undefined;
  let keyFrom = '';
  if (opts.apiKey) [apiKey, keyFrom] = [opts.apiKey, '--api-key'];
  else if (env.BURSTGATE_API_KEY) [apiKey, keyFrom] = [env.BURSTGATE_API_KEY, 'BURSTGATE_API_KEY'];
  else {
    apiKey = await readTrimmed(keyFile);
    keyFrom = keyFile;
  }
  if (!apiKey) {
    throw new GatewayClientError(
      'config',
      `no API key for ${baseUrl}: pass --api-key KEY, set BURSTGATE_API_KEY, or use the embedded gateway's ${keyFile}`,
    );
  }
  return { baseUrl, apiKey, from: { baseUrl: urlFrom, apiKey: keyFrom } };
}
