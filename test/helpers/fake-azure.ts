/**
 * The Azure SDK clients (`GatewayDeps.azureClients`, shared/clouds/azure/clients.ts) as a fake whose
 * every answer a test scripts, in the style of fake-deps.ts: `on('disks.createOrUpdate', ...)` says
 * what one operation answers; an operation nobody scripted throws and is remembered, so a test can
 * never pass because a step failed on a call it did not foresee. Page-blob operations get the SAS
 * URL of the client they were called on as their first argument.
 *
 * Only the methods the adapter (shared/clouds/azure/azure-target.ts) calls exist. Long-running
 * operations answer at once: the fake's promise is the operation's result, and its `submitted()`
 * resolves once the answer was given (the adapter uses it for the VM create and the deallocate).
 */
import type { ComputeManagementClient } from '@azure/arm-compute';
import type { NetworkManagementClient } from '@azure/arm-network';
import type { PageBlobClient } from '@azure/storage-blob';
import type { AzureClients } from '../../shared/clouds/azure/clients';

type Compute = ComputeManagementClient;
type Network = NetworkManagementClient;
type Blob = PageBlobClient;
/** A page-blob method, called with the SAS URL of its client first. */
type OnBlob<F extends (...args: never[]) => unknown> = (
  sasUrl: string,
  ...args: Parameters<F>
) => ReturnType<F>;

/** Every operation the adapter calls, by the name a test scripts it under. */
export interface AzureOperations {
  'disks.createOrUpdate': Compute['disks']['createOrUpdate'];
  'disks.get': Compute['disks']['get'];
  'disks.grantAccess': Compute['disks']['grantAccess'];
  'disks.revokeAccess': Compute['disks']['revokeAccess'];
  'disks.delete': Compute['disks']['delete'];
  'snapshots.createOrUpdate': Compute['snapshots']['createOrUpdate'];
  'snapshots.grantAccess': Compute['snapshots']['grantAccess'];
  'snapshots.revokeAccess': Compute['snapshots']['revokeAccess'];
  'snapshots.delete': Compute['snapshots']['delete'];
  'virtualMachines.createOrUpdate': Compute['virtualMachines']['createOrUpdate'];
  'virtualMachines.instanceView': Compute['virtualMachines']['instanceView'];
  'virtualMachines.deallocate': Compute['virtualMachines']['deallocate'];
  'virtualMachines.delete': Compute['virtualMachines']['delete'];
  'virtualNetworks.get': Network['virtualNetworks']['get'];
  'virtualNetworks.beginCreateOrUpdateAndWait': Network['virtualNetworks']['beginCreateOrUpdateAndWait'];
  'networkInterfaces.beginCreateOrUpdateAndWait': Network['networkInterfaces']['beginCreateOrUpdateAndWait'];
  'networkInterfaces.beginDeleteAndWait': Network['networkInterfaces']['beginDeleteAndWait'];
  'pageBlob.uploadPages': OnBlob<Blob['uploadPages']>;
  'pageBlob.getPageRangesDiffForManagedDisks': OnBlob<Blob['getPageRangesDiffForManagedDisks']>;
  'pageBlob.getPageRanges': OnBlob<Blob['getPageRanges']>;
  'pageBlob.downloadToBuffer': (sasUrl: string, offset?: number, count?: number) => Promise<Buffer>;
}
export type AzureOperation = keyof AzureOperations;

/** What a scripted operation answers: the fields of its result the test cares about (or throws). */
export type AzureAnswer<K extends AzureOperation> = (
  ...args: Parameters<AzureOperations[K]>
) =>
  | Partial<Awaited<ReturnType<AzureOperations[K]>>>
  | Promise<Partial<Awaited<ReturnType<AzureOperations[K]>>>>;

/** An error as the Azure SDKs throw for an error answer (a RestError: ARM's or the blob service's code). */
export function azureError(code: string, message = code, statusCode = 400): Error {
  return Object.assign(new Error(message), { name: 'RestError', code, statusCode });
}

export interface AzureCall {
  operation: AzureOperation;
  args: unknown[];
}

export const FAKE_SUBSCRIPTION = '00000000-0000-0000-0000-000000000000';

export class FakeAzure {
  readonly calls: AzureCall[] = [];
  readonly unscripted: string[] = [];
  private readonly answers = new Map<AzureOperation, (...args: unknown[]) => unknown>();
  readonly clients: AzureClients;

  constructor(readonly subscriptionId = FAKE_SUBSCRIPTION) {
    const op =
      (operation: AzureOperation, prefix: unknown[] = []) =>
      (...args: unknown[]) =>
        this.call(operation, [...prefix, ...args]);
    /** A long-running operation: awaited for its result, or `.submitted()`. */
    const lro =
      (operation: AzureOperation) =>
      (...args: unknown[]) => {
        const result = this.call(operation, args);
        return Object.assign(result, { submitted: async () => void (await result) });
      };
    const compute = {
      disks: {
        createOrUpdate: lro('disks.createOrUpdate'),
        get: op('disks.get'),
        grantAccess: lro('disks.grantAccess'),
        revokeAccess: lro('disks.revokeAccess'),
        delete: lro('disks.delete'),
      },
      snapshots: {
        createOrUpdate: lro('snapshots.createOrUpdate'),
        grantAccess: lro('snapshots.grantAccess'),
        revokeAccess: lro('snapshots.revokeAccess'),
        delete: lro('snapshots.delete'),
      },
      virtualMachines: {
        createOrUpdate: lro('virtualMachines.createOrUpdate'),
        instanceView: op('virtualMachines.instanceView'),
        deallocate: lro('virtualMachines.deallocate'),
        delete: lro('virtualMachines.delete'),
      },
    };
    const network = {
      virtualNetworks: {
        get: op('virtualNetworks.get'),
        beginCreateOrUpdateAndWait: op('virtualNetworks.beginCreateOrUpdateAndWait'),
      },
      networkInterfaces: {
        beginCreateOrUpdateAndWait: op('networkInterfaces.beginCreateOrUpdateAndWait'),
        beginDeleteAndWait: op('networkInterfaces.beginDeleteAndWait'),
      },
    };
    this.clients = {
      subscriptionId,
      // The adapter calls only the methods above; anything else is undefined and fails loudly.
      compute: compute as unknown as Compute,
      network: network as unknown as Network,
      pageBlob: (sasUrl) =>
        ({
          uploadPages: op('pageBlob.uploadPages', [sasUrl]),
          getPageRangesDiffForManagedDisks: op('pageBlob.getPageRangesDiffForManagedDisks', [sasUrl]),
          getPageRanges: op('pageBlob.getPageRanges', [sasUrl]),
          downloadToBuffer: op('pageBlob.downloadToBuffer', [sasUrl]),
        }) as unknown as Blob,
    };
  }

  /** Sets (or replaces) what `operation` answers from now on. */
  on<K extends AzureOperation>(operation: K, answer: AzureAnswer<K>): this {
    this.answers.set(operation, answer as unknown as (...args: unknown[]) => unknown);
    return this;
  }

  /** The arguments of every call of `operation` so far. */
  argsOf<K extends AzureOperation>(operation: K): Array<Parameters<AzureOperations[K]>> {
    return this.calls
      .filter((c) => c.operation === operation)
      .map((c) => c.args as Parameters<AzureOperations[K]>);
  }

  /** The operations called so far, in order. */
  operations(): AzureOperation[] {
    return this.calls.map((c) => c.operation);
  }

  private async call(operation: AzureOperation, args: unknown[]): Promise<unknown> {
    this.calls.push({ operation, args });
    const answer = this.answers.get(operation);
    if (!answer) {
      const what = `${operation}(${args.map((a) => (Buffer.isBuffer(a) ? `<${a.length} bytes>` : JSON.stringify(a))).join(', ')})`;
      this.unscripted.push(what);
      throw Object.assign(
        new Error(`fake Azure: the test scripted no answer to ${what}; script it with .on()`),
        {
          name: 'UnscriptedFakeCall',
        },
      );
    }
    return answer(...args);
  }
}
