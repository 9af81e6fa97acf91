import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEvents, type LocalEvents } from '../../../infra/local/events';

let dir: string;
let events: LocalEvents;
let client: EventBridgeClient;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bg-events-'));
  events = await startEvents({ stateDir: dir });
  client = new EventBridgeClient({
    region: 'us-east-1',
    endpoint: events.url,
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    maxAttempts: 1,
  });
});

afterEach(async () => {
  client?.destroy();
  await events?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('local EventBridge PutEvents', () => {
  it('records the events the real client puts, in memory and in events.jsonl', async () => {
    // Prepare
    const detail = { jobId: 'j-1', from: 'importing', to: 'launching' };
    // Act
    const out = await client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: 'burstgate',
            Source: 'burstgate',
            DetailType: 'Job State Changed',
            Detail: JSON.stringify(detail),
            Resources: ['job/j-1'],
          },
          {
            EventBusName: 'arn:aws:events:us-east-1:000000000000:event-bus/burstgate',
            Source: 'burstgate',
            DetailType: 'Job State Changed',
            Detail: '{"jobId":"j-1","to":"running"}',
          },
        ],
      }),
    );
    await events.close(); // flushes the file; list() still answers
    const lines = (await readFile(join(dir, 'events.jsonl'), 'utf8')).trim().split('\n');
    // Assess
    expect(out.FailedEntryCount).toBe(0);
    expect(out.Entries?.map((e) => e.EventId)).toEqual(events.list().map((e) => e.EventId));
    expect(events.list({ detailType: 'Job State Changed' })).toHaveLength(2);
    expect(events.list()[0]).toMatchObject({
      Source: 'burstgate',
      DetailType: 'Job State Changed',
      EventBusName: 'burstgate',
      Resources: ['job/j-1'],
    });
    expect(JSON.parse(events.list()[0]!.Detail)).toEqual(detail);
    expect(events.list()[1]!.EventBusName).toBe('burstgate');
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual(events.list());
  });

  it('fails single entries the way EventBridge does (missing fields, detail that is not a JSON object)', async () => {
    // Act
    const out = await client.send(
      new PutEventsCommand({
        Entries: [
          { Source: 'burstgate', DetailType: 'x', Detail: 'not json' },
          { Source: 'burstgate', Detail: '{}' },
          { Source: 'burstgate', DetailType: 'ok', Detail: '{}' },
        ],
      }),
    );
    // Assess
    expect(out.FailedEntryCount).toBe(2);
    expect(out.Entries?.[0]).toMatchObject({ ErrorCode: 'MalformedDetail' });
    expect(out.Entries?.[1]).toMatchObject({ ErrorCode: 'InvalidArgument' });
    expect(out.Entries?.[2]?.EventId).toBeTruthy();
    expect(events.list().map((e) => e.DetailType)).toEqual(['ok']);
  });
});
