import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { DescribeStateMachineCommand } from '@aws-sdk/client-sfn';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../../helpers/embedded';

describe('the embedded deployment', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('serves the synthesized routes behind the real authorizer with the local API key', async () => {
    // Act
    const ok = await fetch(`${gw.apiUrl}/offloads`, { headers: { authorization: `Bearer ${gw.apiKey}` } });
    const missing = await fetch(`${gw.apiUrl}/offloads`);
    const wrong = await fetch(`${gw.apiUrl}/offloads`, {
      headers: { authorization: 'Bearer bg_thisIsNotTheKeyThisIsNotTheKeyThisIsNotTh' },
    });
    // Assess
    expect(ok.status).toBe(200);
    expect(missing.status).toBe(401);
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toEqual({ message: 'Forbidden' });
  });

  it('keeps the API key in <stateDir>/api-key, readable only by its owner, in a directory only its owner can open', async () => {
    // Act
    const file = join(gw.stateDir, 'api-key');
    const info = await stat(file);
    const dir = await stat(gw.stateDir);
    // Assess
    expect(gw.apiKey).toMatch(/^bg_[A-Za-z0-9_-]{43}$/);
    expect((await readFile(file, 'utf8')).trim()).toBe(gw.apiKey);
    expect(info.mode & 0o777).toBe(0o600);
    expect(dir.mode & 0o777).toBe(0o700);
  });

  it('points the config at the local state machines, bucket and event bus', async () => {
    // Act
    const offload = await gw.deps.sfn.send(
      new DescribeStateMachineCommand({ stateMachineArn: gw.deps.config.offloadStateMachineArn }),
    );
    const ret = await gw.deps.sfn.send(
      new DescribeStateMachineCommand({ stateMachineArn: gw.deps.config.returnStateMachineArn }),
    );
    await gw.deps.events.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: gw.deps.config.eventBusName,
            Source: 'burstgate',
            DetailType: 'Probe',
            Detail: '{"n":1}',
          },
        ],
      }),
    );
    await gw.deps.s3.send(
      new PutObjectCommand({ Bucket: gw.deps.config.stagingBucket, Key: 'probe', Body: 'x' }),
    );
    // Assess
    expect(offload.name).toBe('burstgate-offload');
    expect(JSON.parse(offload.definition!).StartAt).toBe('AwaitUpload');
    expect(ret.name).toBe('burstgate-return');
    expect(gw.events.list({ detailType: 'Probe' })).toHaveLength(1);
  });

  it('accepts presigned multipart uploads (UploadPart URLs from the SDK presigner) and refuses expired URLs', async () => {
    // Prepare
    const s3 = gw.deps.s3;
    const Bucket = gw.deps.config.stagingBucket;
    const Key = 'staging/job-1/image.ova';
    const part1 = Buffer.alloc(5 * 1024 * 1024, 7);
    const part2 = Buffer.from('the last part');
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    // Act
    const etags: string[] = [];
    for (const [i, body] of [part1, part2].entries()) {
      const url = await getSignedUrl(
        s3,
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1 }),
        {
          expiresIn: 3600,
        },
      );
      const res = await fetch(url, { method: 'PUT', body });
      expect(res.status).toBe(200);
      etags.push(res.headers.get('etag')!);
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
    const stored = Buffer.from(
      await (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToByteArray(),
    );
    const expired = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key }), {
      expiresIn: 1,
      signingDate: new Date(Date.now() - 60_000),
    });
    const refused = await fetch(expired);
    // Assess
    expect(new URL(gw.endpoints.s3).hostname).toBe('127.0.0.1');
    // (Buffer.equals: a deep toEqual over 5 MiB takes minutes)
    expect(stored.length).toBe(part1.length + part2.length);
    expect(stored.equals(Buffer.concat([part1, part2]))).toBe(true);
    expect(refused.status).toBe(403);
  });
});

describe('restarting the embedded deployment on the same state directory', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bg-restart-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps objects, table items and the API key', async () => {
    // Prepare
    const first = await startTestGateway({ stateDir: dir });
    const { stagingBucket: Bucket, jobsTable: TableName } = first.deps.config;
    await first.deps.s3.send(new PutObjectCommand({ Bucket, Key: 'staging/kept.txt', Body: 'still here' }));
    await first.deps.ddb.send(
      new PutCommand({ TableName, Item: { pk: 'TEST#kept', sk: 'TEST', note: 'not a job' } }),
    );
    const key = first.apiKey;
    await first.close();
    // Act
    const second = await startTestGateway({ stateDir: dir });
    try {
      const object = await second.deps.s3.send(new GetObjectCommand({ Bucket, Key: 'staging/kept.txt' }));
      const item = await second.deps.ddb.send(
        new GetCommand({ TableName, Key: { pk: 'TEST#kept', sk: 'TEST' } }),
      );
      const authorized = await fetch(`${second.apiUrl}/offloads`, {
        headers: { authorization: `Bearer ${key}` },
      });
      // Assess
      expect(await object.Body!.transformToString()).toBe('still here');
      expect(item.Item).toEqual({ pk: 'TEST#kept', sk: 'TEST', note: 'not a job' });
      expect(second.apiKey).toBe(key);
      expect(authorized.status).toBe(200);
    } finally {
      await second.close();
    }
  });
});

describe('the embedded deployment in a state directory others could read', () => {
  it('closes the directory to its owner (mode 0700) on start', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'bg-state-mode-'));
    await chmod(dir, 0o755);
    // Act
    const gw = await startTestGateway({ stateDir: dir, azure: false });
    const mode = (await stat(dir)).mode & 0o777;
    await gw.close();
    await rm(dir, { recursive: true, force: true });
    // Assess
    expect(mode).toBe(0o700);
  });
});
