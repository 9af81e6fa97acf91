/**
 * The Azure simulator in tests: beforeAll/afterAll lifecycle (like aws-sim.ts) and the real SDK
 * clients wired to it — ClientSecretCredential against the simulator's authority, the ARM clients
 * on its endpoint, page-blob clients for SAS URLs — all trusting its self-signed certificate and with
 * short retry delays. LROs poll every FAST_POLL.updateIntervalInMs: the SDKs wait 2 s between polls
 * when the service sends no Retry-After (as ARM does), and only a per-call option lowers that.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ComputeManagementClient } from '@azure/arm-compute';
import { NetworkManagementClient } from '@azure/arm-network';
import { ClientSecretCredential } from '@azure/identity';
import { AnonymousCredential, PageBlobClient, type StoragePipelineOptions } from '@azure/storage-blob';
import { afterAll, beforeAll } from 'vitest';

import {
  createAzureClients,
  type AzureClients as GatewayAzureClients,
} from '../../shared/clouds/azure/clients';

import {
  startAzureSimulator,
  type AzureSimulator,
  type AzureSimulatorOptions,
} from '../../infra/local/sim/azure';

/** Spread into every long-running call: `compute.disks.grantAccess(rg, name, data, FAST_POLL)`. */
export const FAST_POLL = { updateIntervalInMs: 10 } as const;
export const FAST_TIMING = { phaseMs: 30 } as const;
export const LOCATION = 'westeurope';
export const RG = 'burstgate';

const RETRY = { maxRetries: 4, retryDelayInMs: 10, maxRetryDelayInMs: 50 };

export interface AzureClients {
  credential: ClientSecretCredential;
  compute: ComputeManagementClient;
  network: NetworkManagementClient;
  /** A page-blob client for a SAS URL the simulator handed out. */
  pageBlob(sasUrl: string): PageBlobClient;
}

export function azureClients(sim: AzureSimulator, secret = sim.clientSecret): AzureClients {
  const tlsOptions = { ca: sim.ca };
  const credential = new ClientSecretCredential(sim.tenantId, sim.clientId, secret, {
    authorityHost: sim.url,
    disableInstanceDiscovery: true,
    tlsOptions,
    retryOptions: RETRY,
  });
  const compute = new ComputeManagementClient(credential, sim.subscriptionId, {
    endpoint: sim.url,
    tlsOptions,
    retryOptions: RETRY,
  });
  const network = new NetworkManagementClient(credential, sim.subscriptionId, {
    endpoint: sim.url,
    $host: sim.url,
    tlsOptions,
    retryOptions: RETRY,
  });
  // StoragePipelineOptions does not declare tlsOptions, but storage-blob passes its options through to core-rest-pipeline
  const blobOptions = {
    tlsOptions,
    retryOptions: { maxTries: 4, retryDelayInMs: 10, maxRetryDelayInMs: 50 },
  } as StoragePipelineOptions;
  return {
    credential,
    compute,
    network,
    pageBlob: (sasUrl) => new PageBlobClient(sasUrl, new AnonymousCredential(), blobOptions),
  };
}

export interface AzureSimEnv extends AzureClients {
  sim: AzureSimulator;
  /** Only with `persist`: where the simulator keeps its state. */
  stateDir: string | undefined;
  /** Stops the simulator and starts it again on the same stateDir and ports; clients are rebuilt. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startAzureSimEnv(
  opts: AzureSimulatorOptions & { persist?: boolean } = {},
): Promise<AzureSimEnv> {
  const { persist, ...simOpts } = opts;
  const stateDir = persist ? await mkdtemp(join(tmpdir(), 'bg-azure-sim-')) : undefined;
  const base = { timing: FAST_TIMING, ...simOpts, ...(stateDir ? { stateDir } : {}) };
  let sim = await startAzureSimulator(base);
  let clients = azureClients(sim);
  const env: AzureSimEnv = {
    get sim() {
      return sim;
    },
    get credential() {
      return clients.credential;
    },
    get compute() {
      return clients.compute;
    },
    get network() {
      return clients.network;
    },
    pageBlob: (u) => clients.pageBlob(u),
    stateDir,
    async restart() {
      const ports = { port: Number(new URL(sim.url).port), blobPort: Number(new URL(sim.blobUrl).port) };
      await sim.close();
      sim = await startAzureSimulator({ ...base, ...ports });
      clients = azureClients(sim);
    },
    async close() {
      await sim.close();
      if (stateDir) await rm(stateDir, { recursive: true, force: true });
    },
  };
  return env;
}

/**
 * Starts an AzureSimEnv in beforeAll and closes it in afterAll; call it at the top of a test file.
 * The returned object reads through to the running env (also after restart()).
 */
export function useAzureSim(opts: AzureSimulatorOptions & { persist?: boolean } = {}): AzureSimEnv {
  let env: AzureSimEnv | undefined;
  beforeAll(async () => {
    env = await startAzureSimEnv(opts);
  }, 60_000);
  afterAll(async () => {
    await env?.close();
  });
  const current = (): AzureSimEnv => {
    if (!env) throw new Error('useAzureSim: the simulator is started in beforeAll');
    return env;
  };
  return {
    get sim() {
      return current().sim;
    },
    get credential() {
      return current().credential;
    },
    get compute() {
      return current().compute;
    },
    get network() {
      return current().network;
    },
    pageBlob: (u) => current().pageBlob(u),
    get stateDir() {
      return current().stateDir;
    },
    restart: () => current().restart(),
    close: () => current().close(),
  };
}

/** `sim.resources()` when nothing is left. */
export const NO_AZURE_RESOURCES = {
  disks: [],
  snapshots: [],
  virtualMachines: [],
  networkInterfaces: [],
  virtualNetworks: [],
} as const;

/** The gateway's own Azure clients (shared/clouds/azure) signed in to a simulator as its service principal. */
export function gatewayAzureClients(sim: AzureSimulator): GatewayAzureClients {
  return createAzureClients(
    {
      tenantId: sim.tenantId,
      clientId: sim.clientId,
      clientSecret: sim.clientSecret,
      subscriptionId: sim.subscriptionId,
    },
    { authorityHost: sim.url, armEndpoint: sim.url, caPem: sim.ca },
  );
}
