/**
 * `npm start` (burstgate demo): the sample VM's three round trips at once on a fresh embedded
 * deployment — AWS by VM Import, the AWS fast path, Azure — each checked by the demo itself.
 */
import { describe, expect, it } from 'vitest';
import { runDemo } from '../../infra/local/demo';

describe('burstgate demo (npm start)', () => {
  it('brings the VM back from all three paths bit-identical and leaves nothing behind', async () => {
    // Prepare
    const lines: string[] = [];

    // Act
    const result = await runDemo({ log: (line) => lines.push(line) });

    // Assess
    expect(result.ok, lines.join('\n')).toBe(true);
    expect(result.trips.map((t) => t.cloud).sort()).toEqual(['aws', 'aws-direct', 'azure']);
    for (const trip of result.trips) {
      expect(trip.returnedDiskSha256, trip.cloud).toBe(trip.originalDiskSha256);
      expect(trip.leftovers, trip.cloud).toBe(0);
    }
    const fast = result.trips.find((t) => t.cloud === 'aws-direct')!.fastPath!;
    // only the changed 512 KiB blocks come back and go out again (two blocks for 640 KiB changed)
    expect(fast.returnedBytes).toBe(2 * 512 * 1024);
    expect(fast.reoffloadOutcome).toBe('incremental');
    expect(fast.reoffloadBytes).toBe(2 * 512 * 1024);
    // --incremental: the re-offload's upload is a delta of those two blocks (plus 144 + 64 bytes of framing)
    expect(fast.reoffloadUploadedBytes).toBe(2 * 512 * 1024 + 72 + 72 + 64);
    expect(lines.join('\n')).toMatch(/AWS fast path/);
  });
});
