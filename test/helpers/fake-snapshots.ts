/**
 * EBS snapshots for the step tests, as scripts over a small table the test fills: each `…able()`
 * method scripts the few EC2 or EBS commands of one kind of call (a test scripts only what it expects
 * the step to send, so anything else still throws in the fake), and answers them from `snapshots`.
 *
 * The rules kept are the ones the steps depend on, each as EBS states it: a StartSnapshot repeated
 * with its ClientToken gets the same snapshot; PutSnapshotBlock takes exactly 512 KiB whose SHA-256
 * is the Checksum sent, into a pending snapshot only; a block listing names every block with a token
 * GetSnapshotBlock must be given back; GetSnapshotBlock sends the block's SHA-256 with it; EC2 answers
 * an unknown snapshot id with InvalidSnapshot.NotFound. Nothing else (no sealing, no timeouts).
 */
import { createHash } from 'node:crypto';
import {
  CompleteSnapshotCommand,
  GetSnapshotBlockCommand,
  ListChangedBlocksCommand,
  ListSnapshotBlocksCommand,
  PutSnapshotBlockCommand,
  StartSnapshotCommand,
} from '@aws-sdk/client-ebs';
import {
  CreateSnapshotCommand,
  DeleteSnapshotCommand,
  DescribeSnapshotsCommand,
  type Snapshot,
} from '@aws-sdk/client-ec2';
import { awsError, responseBody, type FakeDeps } from './fake-deps';

export const EBS_BLOCK = 512 * 1024;
const sha256Base64 = (data: Buffer) => createHash('sha256').update(data).digest('base64');

export interface FakeSnapshot {
  id: string;
  state: 'pending' | 'completed' | 'error';
  volumeSizeGiB: number;
  message?: string;
  progress?: string;
  tags: Record<string, string>;
  /** Block index → its 512 KiB, as written (a child starts with its parent's). */
  blocks: Map<number, Buffer>;
  parentId?: string;
  clientToken?: string;
  /** Blocks PutSnapshotBlock wrote into this snapshot (each index once, however often it was put). */
  written: Set<number>;
  /** What CompleteSnapshot said was written. */
  changedBlocksCount?: number;
}

export class FakeSnapshots {
  readonly snapshots = new Map<string, FakeSnapshot>();
  /** Blocks a listing names per page (EBS's own pages are larger; small ones exercise paging). */
  pageSize = 10_000;
  /** Blocks GetSnapshotBlock sends with a checksum that does not match their bytes (`id/index`). */
  readonly damaged = new Set<string>();
  /** Runs before GetSnapshotBlock answers (a cancel landing during the read, ...). */
  onBlockRead?: (snapshotId: string, index: number) => Promise<void> | void;
  private next = 1;

  constructor(private readonly fake: FakeDeps) {}

  /** A snapshot the test places (the cached image's, an instance's return snapshot, ...). */
  add(id: string, opts: Partial<Omit<FakeSnapshot, 'id'>> = {}): FakeSnapshot {
    const snapshot: FakeSnapshot = {
      id,
      state: 'completed',
      volumeSizeGiB: 1,
      tags: {},
      blocks: new Map(),
      written: new Set(),
      ...opts,
    };
    this.snapshots.set(id, snapshot);
    return snapshot;
  }

  get(id: string): FakeSnapshot {
    const s = this.snapshots.get(id);
    if (!s) throw new Error(`the test placed no snapshot ${id}`);
    return s;
  }

  private newId(): string {
    return `snap-${String(this.next++).padStart(17, '0')}`;
  }

  /** EC2 DescribeSnapshots, by ids (all must exist) or by tag filters (`tag:<key>`, `tag-key`). */
  describable(): this {
    this.fake.ec2.on(DescribeSnapshotsCommand, (input) => {
      const view = (s: FakeSnapshot): Snapshot => ({
        SnapshotId: s.id,
        State: s.state,
        VolumeSize: s.volumeSizeGiB,
        ...(s.message ? { StateMessage: s.message } : {}),
        ...(s.progress ? { Progress: s.progress } : {}),
        Tags: Object.entries(s.tags).map(([Key, Value]) => ({ Key, Value })),
      });
      if (input.SnapshotIds) {
        const missing = input.SnapshotIds.filter((id) => !this.snapshots.has(id));
        if (missing.length > 0)
          throw awsError('InvalidSnapshot.NotFound', `The snapshot '${missing.join(',')}' does not exist.`);
        return { Snapshots: input.SnapshotIds.map((id) => view(this.get(id))) };
      }
      const found = [...this.snapshots.values()].filter((s) =>
        (input.Filters ?? []).every((f) => {
          const values = f.Values ?? [];
          if (f.Name === 'tag-key') return values.some((k) => k in s.tags);
          if (f.Name?.startsWith('tag:')) return values.includes(s.tags[f.Name.slice(4)] ?? '\u0000');
          throw new Error(`fake EC2: the DescribeSnapshots filter ${f.Name} is not modelled`);
        }),
      );
      return { Snapshots: found.map(view) };
    });
    return this;
  }

  /** EBS StartSnapshot: a new pending snapshot (a child holds its parent's blocks), once per ClientToken. */
  startable(): this {
    this.fake.ebs.on(StartSnapshotCommand, (input) => {
      const again = [...this.snapshots.values()].find(
        (s) => input.ClientToken !== undefined && s.clientToken === input.ClientToken,
      );
      if (again) return { SnapshotId: again.id, Status: again.state };
      const parent = input.ParentSnapshotId ? this.snapshots.get(input.ParentSnapshotId) : undefined;
      if (input.ParentSnapshotId && !parent)
        throw awsError('ResourceNotFoundException', `no snapshot ${input.ParentSnapshotId}`);
      if (parent && (input.VolumeSize ?? 0) < parent.volumeSizeGiB)
        throw awsError('ValidationException', 'The volume size cannot be smaller than the parent snapshot');
      const s = this.add(this.newId(), {
        state: 'pending',
        volumeSizeGiB: input.VolumeSize ?? 0,
        tags: Object.fromEntries((input.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
        blocks: new Map(parent?.blocks ?? []),
        ...(parent ? { parentId: parent.id } : {}),
        ...(input.ClientToken ? { clientToken: input.ClientToken } : {}),
      });
      return { SnapshotId: s.id, Status: 'pending' as const, VolumeSize: s.volumeSizeGiB };
    });
    return this;
  }

  /** EBS PutSnapshotBlock: a full block whose SHA-256 is the Checksum, into a pending snapshot. */
  acceptsBlocks(): this {
    this.fake.ebs.on(PutSnapshotBlockCommand, (input) => {
      const s = this.snapshots.get(input.SnapshotId ?? '');
      if (!s) throw awsError('ResourceNotFoundException', `no snapshot ${input.SnapshotId}`);
      if (s.state !== 'pending') throw awsError('ValidationException', `snapshot ${s.id} is ${s.state}`);
      const data = Buffer.from(input.BlockData as Uint8Array);
      if (data.length !== EBS_BLOCK || input.DataLength !== EBS_BLOCK)
        throw awsError('ValidationException', `a block is ${EBS_BLOCK} bytes, not ${data.length}`);
      if (input.ChecksumAlgorithm !== 'SHA256' || input.Checksum !== sha256Base64(data))
        throw awsError('ValidationException', 'The checksum does not match the data');
      s.blocks.set(input.BlockIndex ?? -1, data);
      s.written.add(input.BlockIndex ?? -1);
      return { Checksum: input.Checksum, ChecksumAlgorithm: 'SHA256' as const };
    });
    return this;
  }

  /**
   * EBS CompleteSnapshot: the count is recorded (the test says when the snapshot is completed); a
   * repeated one answers with where the first got to, as EBS does.
   */
  completable(): this {
    this.fake.ebs.on(CompleteSnapshotCommand, (input) => {
      const s = this.snapshots.get(input.SnapshotId ?? '');
      if (!s) throw awsError('ResourceNotFoundException', `no snapshot ${input.SnapshotId}`);
      if (s.state === 'error')
        throw awsError('ValidationException', `snapshot ${s.id} is in the error state`);
      if (s.changedBlocksCount === undefined) s.changedBlocksCount = input.ChangedBlocksCount ?? 0;
      return { Status: s.state };
    });
    return this;
  }

  /** EC2 CreateSnapshot of a volume: `volumes` says what each volume holds; tags from the request. */
  creatable(volumes: Record<string, Map<number, Buffer>>): this {
    this.fake.ec2.on(CreateSnapshotCommand, (input) => {
      const blocks = volumes[input.VolumeId ?? ''];
      if (!blocks) throw awsError('InvalidVolume.NotFound', `The volume '${input.VolumeId}' does not exist.`);
      const tags = (input.TagSpecifications ?? []).flatMap((t) => t.Tags ?? []);
      const s = this.add(this.newId(), {
        state: 'pending',
        tags: Object.fromEntries(tags.map((t) => [t.Key ?? '', t.Value ?? ''])),
        blocks: new Map(blocks),
      });
      return { SnapshotId: s.id, State: 'pending' as const, VolumeId: input.VolumeId };
    });
    return this;
  }

  /** EC2 DeleteSnapshot (an unknown id: InvalidSnapshot.NotFound). */
  deletable(): this {
    this.fake.ec2.on(DeleteSnapshotCommand, (input) => {
      if (!this.snapshots.delete(input.SnapshotId ?? ''))
        throw awsError('InvalidSnapshot.NotFound', `The snapshot '${input.SnapshotId}' does not exist.`);
      return {};
    });
    return this;
  }

  /** One page of ascending block indices; the NextToken is the index the next page starts at. */
  private page(
    indices: number[],
    input: { StartingBlockIndex?: number; NextToken?: string; MaxResults?: number },
  ): { page: number[]; NextToken?: string } {
    const from = input.NextToken !== undefined ? Number(input.NextToken) : (input.StartingBlockIndex ?? 0);
    const after = indices.filter((i) => i >= from);
    const page = after.slice(0, Math.min(this.pageSize, input.MaxResults ?? 10_000));
    const rest = after[page.length];
    return { page, ...(rest !== undefined ? { NextToken: String(rest) } : {}) };
  }

  private token = (id: string, index: number) => `${id}/${index}`;

  /**
   * EBS ListSnapshotBlocks, ListChangedBlocks and GetSnapshotBlock. A block is changed between two
   * snapshots when its bytes differ; one only the first holds has no second token.
   */
  readable(): this {
    const sorted = (s: FakeSnapshot) => [...s.blocks.keys()].sort((a, b) => a - b);
    const known = (id: string | undefined) => {
      const s = this.snapshots.get(id ?? '');
      if (!s) throw awsError('ResourceNotFoundException', `The snapshot ${id} does not exist`, 404);
      return s;
    };
    this.fake.ebs.on(ListSnapshotBlocksCommand, (input) => {
      const s = known(input.SnapshotId);
      const { page, ...more } = this.page(sorted(s), input);
      return {
        Blocks: page.map((i) => ({ BlockIndex: i, BlockToken: this.token(s.id, i) })),
        VolumeSize: s.volumeSizeGiB,
        BlockSize: EBS_BLOCK,
        ...more,
      };
    });
    this.fake.ebs.on(ListChangedBlocksCommand, (input) => {
      const first = known(input.FirstSnapshotId);
      const second = known(input.SecondSnapshotId);
      const indices = [...new Set([...first.blocks.keys(), ...second.blocks.keys()])]
        .filter((i) => {
          const [a, b] = [first.blocks.get(i), second.blocks.get(i)];
          return !a || !b || !a.equals(b);
        })
        .sort((a, b) => a - b);
      const { page, ...more } = this.page(indices, input);
      return {
        ChangedBlocks: page.map((i) => ({
          BlockIndex: i,
          ...(first.blocks.has(i) ? { FirstBlockToken: this.token(first.id, i) } : {}),
          ...(second.blocks.has(i) ? { SecondBlockToken: this.token(second.id, i) } : {}),
        })),
        VolumeSize: second.volumeSizeGiB,
        BlockSize: EBS_BLOCK,
        ...more,
      };
    });
    this.fake.ebs.on(GetSnapshotBlockCommand, async (input) => {
      const s = known(input.SnapshotId);
      await this.onBlockRead?.(s.id, input.BlockIndex ?? -1);
      const index = input.BlockIndex ?? -1;
      const data = s.blocks.get(index);
      if (!data || input.BlockToken !== this.token(s.id, index))
        throw awsError('ValidationException', `block ${index} of ${s.id} has no token ${input.BlockToken}`);
      const sent = Buffer.from(data);
      if (this.damaged.has(this.token(s.id, index))) sent[0] = (sent[0] ?? 0) ^ 0xff;
      return {
        BlockData: responseBody(sent) as never,
        DataLength: sent.length,
        Checksum: sha256Base64(data),
        ChecksumAlgorithm: 'SHA256' as const,
      };
    });
    return this;
  }
}

/** The snapshots of the fake's EBS, nothing scripted yet. */
export const fakeSnapshots = (fake: FakeDeps): FakeSnapshots => new FakeSnapshots(fake);
