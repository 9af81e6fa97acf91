import { describe, expect, it } from 'vitest';
import { ProgressBar, formatBytes, formatEta, formatStats, renderBar } from '../../../shared/client/progress';

const MiB = 1024 * 1024;

function sink(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 100, write: (s: string) => writes.push(s) } };
}

describe('progress', () => {
  it('formats bytes, ETA and stats', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(64 * MiB)).toBe('64.0 MiB');
    expect(formatBytes(3 * 1024 * MiB)).toBe('3.00 GiB');
    expect(formatEta(65)).toBe('1:05');
    expect(formatEta(3725)).toBe('1:02:05');
    expect(formatEta(undefined)).toBe('--:--');
    expect(formatStats({ label: 'upload', done: 25 * MiB, total: 100 * MiB, rate: 5 * MiB })).toBe(
      ' 25.0%  25.0 MiB / 100.0 MiB  5.0 MiB/s  ETA 0:15',
    );
    expect(formatStats({ label: 'x', done: MiB })).toBe('1.0 MiB  -- MiB/s');
  });

  it('draws a bar that fits the terminal', () => {
    const line = renderBar({ label: 'upload', done: 50, total: 100, rate: MiB }, 100);
    expect(line).toMatch(/^upload \[#+\.+\] {2}50\.0%/);
    expect(line.length).toBeLessThanOrEqual(100);
    expect(renderBar({ label: 'upload', done: 50, total: 100 }, 30).length).toBeLessThan(30);
  });

  it('redraws one line on a TTY, throttled, and ends with a summary line', () => {
    let now = 0;
    const { writes, stream } = sink(true);
    const bar = new ProgressBar({ label: 'upload', total: 10 * MiB, stream, now: () => now });
    for (let i = 1; i <= 10; i++) {
      now += 50;
      bar.update(i * MiB);
    }
    expect(writes.length).toBe(6); // every 100 ms over 500 ms, and at 100%
    expect(writes.every((w) => w.startsWith('\r\x1b[2K'))).toBe(true);
    expect(writes.at(-1)).toContain('100.0%');
    expect(writes.at(-1)).toMatch(/20\.0 MiB\/s/);
    bar.finish();
    expect(writes.at(-1)).toBe('\r\x1b[2Kupload  10.0 MiB in 0.5 s (20.0 MiB/s)\n');
  });

  it('prints plain lines every few seconds when not a TTY', () => {
    let now = 0;
    const { writes, stream } = sink(false);
    const bar = new ProgressBar({
      label: 'download',
      total: 100 * MiB,
      stream,
      now: () => now,
      plainIntervalMs: 5000,
    });
    for (let s = 1; s <= 12; s++) {
      now = s * 1000;
      bar.update(s * 8 * MiB);
    }
    expect(writes).toEqual([
      'download:  40.0%  40.0 MiB / 100.0 MiB  8.0 MiB/s  ETA 0:08\n',
      'download:  80.0%  80.0 MiB / 100.0 MiB  8.0 MiB/s  ETA 0:03\n',
    ]);
    expect(writes.every((w) => !w.includes('\r'))).toBe(true);
    bar.abort();
    bar.finish();
    expect(writes).toHaveLength(2);
  });
});
