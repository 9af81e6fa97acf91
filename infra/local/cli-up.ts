/**
 * `burstgate up`: starts the embedded deployment, writes `<stateDir>/api-url` (the API key is in
 * `<stateDir>/api-key`), prints where everything is, and runs until SIGINT/SIGTERM (or `signal`),
 * then closes every service and removes `api-url`.
 */
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startEmbedded, type Embedded, type EmbeddedOptions } from './embedded';

export interface RunUpOptions {
  /** State directory (default `.burstgate`, relative to the working directory). */
  stateDir?: string;
  /** API port (default: a free port). */
  port?: number;
  /** Stops the gateway when aborted (besides SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /** Where the banner and request lines go (default: stdout for the banner, stderr for lines). */
  out?: (line: string) => void;
  /** Handler log level (default WARN: handlers' warnings and errors only). */
  handlerLogLevel?: EmbeddedOptions['handlerLogLevel'];
  /** Called once everything listens (tests). */
  onReady?: (gateway: Embedded) => void | Promise<void>;
}

export async function runUp(opts: RunUpOptions = {}): Promise<void> {
  const stateDir = path.resolve(opts.stateDir ?? '.burstgate');
  const print = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const log = opts.out ?? ((line: string) => process.stderr.write(`${line}\n`));
  const gateway = await startEmbedded({
    stateDir,
    ...(opts.port !== undefined ? { ports: { api: opts.port } } : {}),
    handlerLogLevel: opts.handlerLogLevel ?? 'WARN',
    log,
  });
  const urlFile = path.join(stateDir, 'api-url');
  // Listening for Ctrl-C before saying it is up: whoever reads "Ctrl-C stops it" may press it at
  // once, and a SIGINT that finds no listener ends the process without stopping anything.
  const { stopped, dispose } = untilStopped(opts.signal);
  try {
    await writeFile(urlFile, `${gateway.apiUrl}\n`);
    print(`burstgate is up (embedded deployment, nothing leaves this machine)`);
    print(`  API        ${gateway.apiUrl}`);
    print(`  API key    ${gateway.apiKey}`);
    print(`             (in ${path.join(stateDir, 'api-key')}; the CLI reads it and ${urlFile})`);
    print(`  state      ${stateDir}  (jobs, staged images, simulated AWS and Azure; kept across restarts)`);
    print(
      `  services   S3 ${gateway.endpoints.s3} · DynamoDB ${gateway.endpoints.dynamodb} · EC2 ${gateway.endpoints.ec2}`,
    );
    print(`             Step Functions ${gateway.endpoints.sfn} · EventBridge ${gateway.endpoints.events}`);
    if (gateway.azureSim) {
      const az = gateway.azureSim;
      print(`  azure      ARM and Entra ID ${az.url} · disk blobs ${az.blobUrl} (self-signed TLS)`);
      print(
        `             subscription ${az.subscriptionId}, resource group ${az.resourceGroups.join(', ')}, service principal ${az.clientId}`,
      );
    }
    print(`  try        curl -H "Authorization: Bearer ${gateway.apiKey}" ${gateway.apiUrl}/offloads`);
    print(`Ctrl-C stops it.`);
    await opts.onReady?.(gateway);
    await stopped;
    print('stopping…');
  } finally {
    await rm(urlFile, { force: true });
    await gateway.close();
    dispose();
  }
  print('stopped.');
}

/**
 * Listens for SIGINT, SIGTERM or abort: `stopped` resolves on the first; while stopping, a second
 * signal exits at once. `dispose` removes every listener it added.
 */
function untilStopped(signal?: AbortSignal): { stopped: Promise<void>; dispose: () => void } {
  const force = () => process.exit(130);
  let stop = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      signal?.removeEventListener('abort', stop);
      process.once('SIGINT', force);
      process.once('SIGTERM', force);
      resolve();
    };
  });
  const dispose = () => {
    for (const s of ['SIGINT', 'SIGTERM'] as const) {
      process.off(s, stop);
      process.off(s, force);
    }
    signal?.removeEventListener('abort', stop);
  };
  if (signal?.aborted) stop();
  else {
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    signal?.addEventListener('abort', stop);
  }
  return { stopped, dispose };
}
