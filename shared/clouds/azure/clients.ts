/**
 * The Azure SDK clients the adapter uses, created once per service principal: Entra ID client
 * credentials (`@azure/identity`), ARM compute and network clients, and page-blob clients for the
 * SAS URLs managed disks hand out. Against the embedded deployment's simulator they get its
 * endpoint (authority host and ARM endpoint) and trust its self-signed certificate (`tlsOptions.ca`).
 */
import { ComputeManagementClient } from '@azure/arm-compute';
import { NetworkManagementClient } from '@azure/arm-network';
import { ClientSecretCredential } from '@azure/identity';
import { AnonymousCredential, PageBlobClient, type StoragePipelineOptions } from '@azure/storage-blob';

/** A service principal (app registration) allowed to manage the gateway's resource groups. */
export interface AzureServicePrincipal {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  subscriptionId: string;
}

export interface AzureEndpoints {
  /** Entra ID authority (default: public cloud, https://login.microsoftonline.com). */
  authorityHost?: string;
  /** ARM endpoint (default: https://management.azure.com). */
  armEndpoint?: string;
  /** PEM certificate(s) to trust besides the system's (the simulator's self-signed certificate). */
  caPem?: string;
}

export interface AzureClients {
  subscriptionId: string;
  compute: ComputeManagementClient;
  network: NetworkManagementClient;
  /** A page-blob client for a disk's or snapshot's SAS URL. */
  pageBlob(sasUrl: string): PageBlobClient;
}

/** SDK retries are few and short: Step Functions owns the retries of throttled and failing steps. */
const ARM_RETRY = { maxRetries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 2000 };
const BLOB_RETRY = { maxTries: 3, retryDelayInMs: 200, maxRetryDelayInMs: 2000 };

export function createAzureClients(sp: AzureServicePrincipal, endpoints: AzureEndpoints = {}): AzureClients {
  const tlsOptions = endpoints.caPem ? { ca: endpoints.caPem } : undefined;
  const credential = new ClientSecretCredential(sp.tenantId, sp.clientId, sp.clientSecret, {
    ...(endpoints.authorityHost
      ? // A private authority (the simulator) is not in Entra's instance metadata.
        { authorityHost: endpoints.authorityHost, disableInstanceDiscovery: true }
      : {}),
    ...(tlsOptions ? { tlsOptions } : {}),
    retryOptions: ARM_RETRY,
  });
  const armOptions = {
    ...(endpoints.armEndpoint ? { endpoint: endpoints.armEndpoint } : {}),
    ...(tlsOptions ? { tlsOptions } : {}),
    retryOptions: ARM_RETRY,
  };
  const compute = new ComputeManagementClient(credential, sp.subscriptionId, armOptions);
  const network = new NetworkManagementClient(credential, sp.subscriptionId, {
    ...armOptions,
    // the classic client builds its URLs from $host
    ...(endpoints.armEndpoint ? { $host: endpoints.armEndpoint } : {}),
  });
  // StoragePipelineOptions does not declare tlsOptions; storage-blob 12.32 passes it to core-rest-pipeline.
  const blobOptions = {
    ...(tlsOptions ? { tlsOptions } : {}),
    retryOptions: BLOB_RETRY,
  } as StoragePipelineOptions;
  return {
    subscriptionId: sp.subscriptionId,
    compute,
    network,
    pageBlob: (sasUrl) => new PageBlobClient(sasUrl, new AnonymousCredential(), blobOptions),
  };
}

/** Checks a service principal read from a secret or configuration; names what is missing. */
export function parseServicePrincipal(value: unknown, where: string): AzureServicePrincipal {
  const v = (value ?? {}) as Record<string, unknown>;
  const missing = ['tenantId', 'clientId', 'clientSecret', 'subscriptionId'].filter(
    (k) => typeof v[k] !== 'string' || v[k] === '',
  );
  if (missing.length > 0) {
    throw new Error(
      `${where}: the Azure service principal lacks ${missing.join(', ')}; store JSON {"tenantId","clientId","clientSecret","subscriptionId"}`,
    );
  }
  return {
    tenantId: v.tenantId as string,
    clientId: v.clientId as string,
    clientSecret: v.clientSecret as string,
    subscriptionId: v.subscriptionId as string,
  };
}
