import type { S3Client } from '@aws-sdk/client-s3';

import type { DiskStore } from './disks';
import type { AwsSimTiming, SimState } from './model';
import {
  Ec2Error,
  qList,
  qStr,
  qTags,
  type Filter,
  type QueryNode,
  type Tag,
  type XmlObject,
} from './protocol';

/** What every action handler gets. */
export interface SimContext {
  readonly state: SimState;
  readonly disks: DiskStore;
  readonly timing: AwsSimTiming;
  readonly s3: S3Client;
  readonly region: string;
  readonly accountId: string;
  readonly tmpDir: string;
  now(): number;
  /** Persists the resource tables (atomic write of state.json). */
  save(): void;
  /** Starts background work under a key (import or export task id); aborted on close or cancel. */
  spawn(key: string, fn: (signal: AbortSignal) => Promise<void>): void;
  abort(key: string): void;
  /** In-memory progress (0..1) of running background work, by task id. */
  readonly progress: Map<string, number>;
  /** The failImport fault, consumed by the next ImportImage. */
  takeImportFailure(): string | undefined;
}

export type Handler = (ctx: SimContext, params: QueryNode) => Promise<XmlObject> | XmlObject;

export function tagSetXml(tags: Tag[]): XmlObject[] {
  return tags.map((t) => ({ key: t.key, value: t.value }));
}

function wildcard(pattern: string): RegExp {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}

/**
 * EC2 filter semantics: a resource matches when, for every filter, one of the filter's values
 * matches one of the resource's values for that name (`*` and `?` are wildcards). Unknown filter
 * names are an InvalidParameterValue, as EC2 answers.
 */
export function matchesFilters(
  filters: Filter[],
  fields: Record<string, (string | undefined)[]>,
  tags: Tag[],
): boolean {
  for (const f of filters) {
    let values: (string | undefined)[];
    if (f.name.startsWith('tag:')) {
      const key = f.name.slice(4);
      values = tags.filter((t) => t.key === key).map((t) => t.value);
    } else if (f.name === 'tag-key') {
      values = tags.map((t) => t.key);
    } else if (f.name === 'tag-value') {
      values = tags.map((t) => t.value);
    } else if (f.name in fields) {
      values = fields[f.name] ?? [];
    } else {
      throw new Ec2Error('InvalidParameterValue', `The filter '${f.name}' is invalid`);
    }
    const patterns = f.values.map(wildcard);
    if (!values.some((v) => v !== undefined && patterns.some((p) => p.test(v)))) return false;
  }
  return true;
}

/** Validates tags the way CreateTags/TagSpecifications do. */
export function validateTags(tags: Tag[]): void {
  if (tags.length > 50) throw new Ec2Error('TagLimitExceeded', 'The maximum number of tags is 50.');
  for (const t of tags) {
    if (t.key === '') throw new Ec2Error('InvalidParameterValue', 'Tag keys must not be empty.');
    if (t.key.length > 128)
      throw new Ec2Error('InvalidParameterValue', `Tag key exceeds the maximum length of 128 characters`);
    if (t.value.length > 256)
      throw new Ec2Error('InvalidParameterValue', `Tag value exceeds the maximum length of 256 characters`);
    if (t.key.toLowerCase().startsWith('aws:'))
      throw new Ec2Error(
        'InvalidParameterValue',
        `Tag keys starting with 'aws:' are reserved for internal use`,
      );
  }
}

/** Merges tags: later keys replace earlier ones (CreateTags overwrites). */
export function mergeTags(existing: Tag[], added: Tag[]): Tag[] {
  const m = new Map(existing.map((t) => [t.key, t.value]));
  for (const t of added) m.set(t.key, t.value);
  return [...m].map(([key, value]) => ({ key, value }));
}

/**
 * `TagSpecification.N.ResourceType` + `.Tag.M.*`; returns tags by resource type. Resource types not
 * in `allowed` are rejected like EC2 does.
 */
export function parseTagSpecifications(params: QueryNode, allowed: string[]): Map<string, Tag[]> {
  const out = new Map<string, Tag[]>();
  for (const spec of qList(params, 'TagSpecification')) {
    const type = qStr(spec, 'ResourceType');
    if (type === undefined)
      throw new Ec2Error('InvalidParameterValue', 'The tag specification resource type must be specified.');
    if (!allowed.includes(type))
      throw new Ec2Error(
        'InvalidParameterValue',
        `'${type}' is not a valid taggable resource type for this operation.`,
      );
    const tags = qTags(spec, 'Tag');
    validateTags(tags);
    out.set(type, mergeTags(out.get(type) ?? [], tags));
  }
  return out;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
