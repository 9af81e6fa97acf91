/**
 * The delivery log on the embedded table (dynalite): a job's log holds the deliveries to its own
 * callback and, through references, the tenant's endpoint deliveries about it, newest first; more
 * references than one BatchGetItem takes; a reference whose delivery was never written is skipped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { DeliveryStore, type Delivery, type DeliverySubject } from '../../../shared/store/delivery-store';
import { newDeliveryId } from '../../../shared/domain/webhooks/outbox';
import { newJobId } from '../../../shared/domain/ids';
import { startTestGateway, type TestGateway } from '../../helpers/embedded';

let gw: TestGateway;
let store: DeliveryStore;
beforeAll(async () => {
  gw = await startTestGateway({ azure: false });
  store = new DeliveryStore(gw.deps.ddb, gw.deps.config.jobsTable);
});
afterAll(async () => {
  await gw?.close();
});

const T0 = Date.parse('2027-10-20T08:00:00.000Z');

function aDelivery(subject: DeliverySubject, jobId: string, second: number): Delivery {
  const at = new Date(T0 + second * 1000);
  return {
    deliveryId: newDeliveryId(at),
    tenant: 'team-a',
    subject,
    about: { jobId },
    url: 'https://hooks.example.com/in',
    eventType: 'burstgate.job-state-changed',
    body: '{}',
    createdAt: at.toISOString(),
    updatedAt: at.toISOString(),
    state: 'pending',
    attempts: [],
    version: 1,
  };
}

describe('DeliveryStore.listFor', () => {
  it("lists a job's own and its endpoints' deliveries newest first, past one BatchGetItem", async () => {
    // Prepare: 2 to the job's callback, 130 to two endpoints (more than 100 references)
    const jobId = newJobId();
    const job = { kind: 'job', id: jobId } as const;
    const made: Delivery[] = [];
    for (let i = 0; i < 132; i++) {
      const subject = i === 0 || i === 131 ? job : ({ kind: 'webhook', id: `wh-${i % 2}` } as const);
      const d = aDelivery(subject, jobId, i);
      await store.create(d);
      made.push(d);
    }

    // Act
    const log = await store.listFor(job);
    const endpoint = await store.listFor({ kind: 'webhook', id: 'wh-1' });

    // Assess
    expect(log.map((d) => d.deliveryId)).toEqual(made.map((d) => d.deliveryId).reverse());
    expect(log[0]?.subject).toEqual(job);
    expect(log[1]?.subject).toEqual({ kind: 'webhook', id: 'wh-0' });
    expect(endpoint).toHaveLength(65);
    expect(endpoint.every((d) => d.subject.kind === 'webhook' && d.subject.id === 'wh-1')).toBe(true);
  });

  it('skips a reference whose delivery was never written, and a reference is no delivery of the job', async () => {
    // Prepare: what a create cut off between the reference and the delivery leaves
    const jobId = newJobId();
    const lost = aDelivery({ kind: 'webhook', id: 'wh-lost' }, jobId, 1);
    await gw.deps.ddb.send(
      new PutCommand({
        TableName: gw.deps.config.jobsTable,
        Item: { pk: `JOB#${jobId}`, sk: `DELIVERY#${lost.deliveryId}`, ref: lost.subject },
      }),
    );
    const kept = aDelivery({ kind: 'job', id: jobId }, jobId, 2);
    await store.create(kept);

    // Act
    const log = await store.listFor({ kind: 'job', id: jobId });
    const asJobs = await store.get({ kind: 'job', id: jobId }, lost.deliveryId).catch((e: unknown) => e);

    // Assess
    expect(log.map((d) => d.deliveryId)).toEqual([kept.deliveryId]);
    expect(asJobs).toMatchObject({ name: 'DeliveryMissing' });
  });
});
