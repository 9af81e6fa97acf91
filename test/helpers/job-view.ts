/** A job view as the gateway shows it, for client tests. */
import type { JobView } from '../../shared/client/types';

export function jobView(overrides: Partial<JobView> = {}): JobView {
  return {
    jobId: 'job-01jz0000000000000000000000',
    tenant: 'default',
    vmName: 'burstgate-sample',
    state: 'awaiting-upload',
    target: { cloud: 'aws', region: 'us-east-1', instanceType: 't3.medium' },
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    image: { format: 'ova', sizeBytes: 194560 },
    resources: [],
    steps: [],
    bytes: { uploaded: 0 },
    cloud: {},
    links: { self: '/offloads/job-01jz0000000000000000000000' },
    ...overrides,
  };
}
