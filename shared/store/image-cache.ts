/**
 * The AWS direct path's image cache: per VM name and region, the last snapshot a direct offload
 * uploaded, its AMI and its block manifest, with the disk content's SHA-256 — per tenant: two teams'
 * `web01` are two VMs, and neither may reuse (or read) the other's snapshot. Items live in the
 * jobs table (`pk = IMAGECACHE@<tenant>#<region>#<vmName>`, the default tenant's without
 * `@<tenant>`, as before tenants; `sk = IMAGECACHE`; no GSI attributes, so job listings never see
 * them). Writes are conditional on the entry they replace (no transactions).
 */
import { DEFAULT_TENANT, ownerOf, type VmHardware } from '../domain/job';
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ImageCacheConflictError } from './errors';
import { isConditionFailure } from './versioned';

const SK = 'IMAGECACHE';

/** A snapshot (with its AMI and manifest) the cache no longer points at but could not delete yet. */
export interface RetiredImage {
  snapshotId: string;
  amiId?: string;
  manifestKey: string;
  jobId: string;
}

export interface ImageCacheEntry {
  /** The tenant of the jobs that upload and reuse it (absent: the default tenant). */
  tenant?: string;
  vmName: string;
  region: string;
  snapshotId: string;
  amiId?: string;
  /** S3 key (staging bucket) of the snapshot's block manifest. */
  manifestKey: string;
  /**
   * Content SHA-256 of the whole disk (zeros included): measured by inspect from a full upload, or
   * the delta's trailer's claim (the client hashed its disk) for an incremental one.
   */
  diskSha256: string;
  /**
   * True when the gateway measured diskSha256 itself (a full upload). Only such an entry may be
   * reused by an offload whose measured hash matches: a claimed hash is never trusted for reuse, or
   * a delta claiming the unchanged disk's hash would have the next full offload boot its blocks.
   * Absent (entries from before it was recorded): not measured.
   */
  diskSha256Measured?: boolean;
  capacityBytes: number;
  /** Non-zero 512 KiB blocks of the disk (the manifest's entries). */
  blocks: number;
  /** The job that uploaded the snapshot. */
  jobId: string;
  /**
   * The VM's profile and the disk's partition table as that job's inspect found them: an incremental
   * upload (a delta, no OVF) keeps them.
   */
  hardware?: VmHardware;
  partitionTable?: 'gpt' | 'mbr';
  updatedAt: string;
  /** Replaced entries still in use by jobs that were not done when they were replaced. */
  retired?: RetiredImage[];
}

const key = (tenant: string, region: string, vmName: string) => ({
  pk:
    tenant === DEFAULT_TENANT ? `IMAGECACHE#${region}#${vmName}` : `IMAGECACHE@${tenant}#${region}#${vmName}`,
  sk: SK,
});

export class ImageCache {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async get(tenant: string, region: string, vmName: string): Promise<ImageCacheEntry | undefined> {
    const out = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: key(tenant, region, vmName), ConsistentRead: true }),
    );
    if (!out.Item) return undefined;
    const { pk: _pk, sk: _sk, ...entry } = out.Item as ImageCacheEntry & { pk: string; sk: string };
    return entry;
  }

  /**
   * Writes `entry` if the current one is still `expected` (by updatedAt and jobId; undefined: no
   * entry). Throws ImageCacheConflictError when another writer got there first.
   */
  async replace(entry: ImageCacheEntry, expected: ImageCacheEntry | undefined): Promise<void> {
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...key(ownerOf(entry), entry.region, entry.vmName), ...entry },
          ...(expected
            ? {
                ConditionExpression: 'updatedAt = :u AND jobId = :j',
                ExpressionAttributeValues: { ':u': expected.updatedAt, ':j': expected.jobId },
              }
            : { ConditionExpression: 'attribute_not_exists(pk)' }),
        }),
      );
    } catch (err) {
      if (isConditionFailure(err)) {
        throw new ImageCacheConflictError(entry.region, entry.vmName);
      }
      throw err;
    }
  }

  async delete(tenant: string, region: string, vmName: string): Promise<void> {
    await this.ddb.send(new DeleteCommand({ TableName: this.table, Key: key(tenant, region, vmName) }));
  }
}
