/**
 * API keys in the jobs table. A key is `bg_` + 32 random bytes (base64url), printed once; only its
 * SHA-256 is stored (`pk = APIKEY#<sha256 hex>`, `sk = APIKEY`), so a table read never reveals a
 * usable key. The record says whose key it is (tenant), what it may do (scopes), a label, an
 * optional expiry, and once revoked, when. Every key is also in GSI `byOwner` under one partition
 * (`gsi2pk = APIKEYS`, `gsi2sk = <tenant>#<createdAt>#<keyId>`), so listing keys (of a tenant) is a
 * query, never a scan; a deployment has tens of keys, not millions.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { ApiKeyMissingError } from './errors';
import { BY_OWNER_INDEX } from './owner-index';
import { isConditionFailure } from './versioned';

const SK = 'APIKEY';
const LIST_PK = 'APIKEYS';

/** A new API key: `bg_` + 32 random bytes, base64url. Only its SHA-256 is ever stored. */
export function newApiKey(): string {
  return `bg_${randomBytes(32).toString('base64url')}`;
}

export const sha256Hex = (text: string | Buffer): string => createHash('sha256').update(text).digest('hex');

/** What the table holds of a key (never the key itself). */
export interface ApiKeyRecord {
  /** Shown in lists and logs: `key-` + 26 base32 characters. Absent on keys made before key ids. */
  keyId?: string;
  /** Absent on keys made before tenants: the default tenant's. */
  tenant?: string;
  /** Absent on keys made before scopes. */
  scopes?: string[];
  label: string;
  createdAt: string;
  expiresAt?: string;
  revokedAt?: string;
  /** The first keys had this instead of revokedAt. */
  disabled?: boolean;
}

interface ApiKeyItem extends ApiKeyRecord {
  pk: string;
  sk: string;
  keyHash: string;
  gsi2pk?: string;
  gsi2sk?: string;
}

const keyOf = (hash: string) => ({ pk: `APIKEY#${hash}`, sk: SK });

function recordOf(item: ApiKeyItem): ApiKeyRecord {
  const { pk: _pk, sk: _sk, keyHash: _h, gsi2pk: _g, gsi2sk: _s, ...record } = item;
  return record;
}

export class ApiKeyStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** The record of a key, by the key itself (hashed for the lookup); revoked or expired ones too. */
  async find(apiKey: string): Promise<ApiKeyRecord | undefined> {
    const out = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: keyOf(sha256Hex(apiKey)), ConsistentRead: true }),
    );
    return out.Item ? recordOf(out.Item as ApiKeyItem) : undefined;
  }

  /** Stores a key's record (replacing one of the same key). */
  async put(apiKey: string, record: ApiKeyRecord & { keyId: string; tenant: string }): Promise<void> {
    const keyHash = sha256Hex(apiKey);
    await this.ddb.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          ...keyOf(keyHash),
          keyHash,
          ...record,
          gsi2pk: LIST_PK,
          gsi2sk: `${record.tenant}#${record.createdAt}#${record.keyId}`,
        },
      }),
    );
  }

  /** Keys, oldest first; of one tenant when given. */
  async list(tenant?: string): Promise<ApiKeyRecord[]> {
    return (await this.items(tenant)).map(recordOf);
  }

  /**
   * Marks a key revoked (it stays listed, with when). Revoking it again keeps the first time.
   * ApiKeyMissingError when no key has this id.
   */
  async revoke(keyId: string, now: Date): Promise<ApiKeyRecord> {
    const item = (await this.items(undefined)).find((i) => i.keyId === keyId);
    if (!item) throw new ApiKeyMissingError(keyId);
    if (item.revokedAt) return recordOf(item);
    try {
      const out = await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: item.pk, sk: SK },
          UpdateExpression: 'SET revokedAt = :now',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(revokedAt)',
          ExpressionAttributeValues: { ':now': now.toISOString() },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return recordOf(out.Attributes as ApiKeyItem);
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      // revoked meanwhile by another call: theirs stands
      const again = await this.ddb.send(
        new GetCommand({ TableName: this.table, Key: { pk: item.pk, sk: SK }, ConsistentRead: true }),
      );
      if (!again.Item) throw new ApiKeyMissingError(keyId);
      return recordOf(again.Item as ApiKeyItem);
    }
  }

  private async items(tenant: string | undefined): Promise<ApiKeyItem[]> {
    const found: ApiKeyItem[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.ddb.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: BY_OWNER_INDEX,
          KeyConditionExpression: tenant ? 'gsi2pk = :pk AND begins_with(gsi2sk, :tenant)' : 'gsi2pk = :pk',
          ExpressionAttributeValues: { ':pk': LIST_PK, ...(tenant ? { ':tenant': `${tenant}#` } : {}) },
          ExclusiveStartKey: startKey,
        }),
      );
      found.push(...((out.Items as ApiKeyItem[] | undefined) ?? []));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return found;
  }
}
