/**
 * A small progress display for uploads, hashing and downloads: percent, bytes, MiB/s (over the
 * last few seconds) and ETA. On a TTY it redraws one line; otherwise (CI logs, pipes) it prints a
 * plain line every few seconds and one at the end. Writes to stderr by default so stdout stays
 * clean for scripts.
 */

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  label: string;
  total?: number;
  /** Default: process.stderr. */
  stream?: ProgressStream;
  /** Force TTY or plain mode (default: the stream's isTTY). */
  tty?: boolean;
  /** Minimum time between TTY redraws (default 100 ms). */
  redrawMs?: number;
  /** Time between plain lines (default 5 s). */
  plainIntervalMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

const MiB = 1024 * 1024;
const RATE_WINDOW_MS = 5000;

export function formatBytes(n: number): string {
  if (n >= 1024 * MiB) return `${(n / 1024 / MiB).toFixed(2)} GiB`;
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** `m:ss` or `h:mm:ss`; `--:--` when unknown. */
export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export interface ProgressSnapshot {
  label: string;
  done: number;
  total?: number;
  /** Bytes per second, when known. */
  rate?: number;
}

/** The numbers part: ` 42.0%  12.3 MiB / 27.1 MiB  8.4 MiB/s  ETA 0:02`. */
export function formatStats(s: ProgressSnapshot): string {
  const parts: string[] = [];
  if (s.total !== undefined && s.total > 0) {
    parts.push(`${((100 * Math.min(s.done, s.total)) / s.total).toFixed(1).padStart(5)}%`);
    parts.push(`${formatBytes(s.done)} / ${formatBytes(s.total)}`);
  } else {
    parts.push(formatBytes(s.done));
  }
  parts.push(s.rate !== undefined ? `${(s.rate / MiB).toFixed(1)} MiB/s` : '-- MiB/s');
  if (s.total !== undefined) {
    const left = s.total - s.done;
    parts.push(`ETA ${formatEta(left <= 0 ? 0 : s.rate ? left / s.rate : undefined)}`);
  }
  return parts.join('  ');
}

/** A full TTY line: `label [#####.....] stats`, fitted to `columns` (a steady bar width). */
export function renderBar(s: ProgressSnapshot, columns = 80): string {
  const stats = formatStats(s);
  const known = s.total !== undefined && s.total > 0;
  const width = Math.min(30, columns - s.label.length - 4 - 52);
  if (known && width >= 10) {
    const filled = Math.round((width * Math.min(s.done, s.total!)) / s.total!);
    return `${s.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${stats}`.slice(0, columns - 1);
  }
  const line = `${s.label}  ${stats}`;
  if (line.length < columns) return line;
  // narrow terminal: percent, rate and ETA only
  const compact = formatStats({
    label: s.label,
    done: s.done,
    ...(s.rate !== undefined ? { rate: s.rate } : {}),
  });
  const short = known
    ? `${s.label} ${formatStats(s).split('  ')[0]!.trim()}  ${compact.split('  ')[1]}  ${stats.split('  ').at(-1)}`
    : `${s.label}  ${compact}`;
  return short.slice(0, Math.max(columns - 1, 20));
}

export class ProgressBar {
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly now: () => number;
  private readonly redrawMs: number;
  private readonly plainIntervalMs: number;
  private readonly started: number;
  private total: number | undefined;
  private done = 0;
  private lastDraw = -Infinity;
  private samples: Array<[number, number]> = [];
  private finished = false;

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = opts.tty ?? this.stream.isTTY === true;
    this.now = opts.now ?? Date.now;
    this.redrawMs = opts.redrawMs ?? 100;
    this.plainIntervalMs = opts.plainIntervalMs ?? 5000;
    this.total = opts.total;
    this.started = this.now();
    this.samples.push([this.started, 0]);
    if (!this.tty) this.lastDraw = this.started; // first plain line after one interval
  }

  update(done: number, total?: number): void {
    if (this.finished) return;
    if (total !== undefined) this.total = total;
    this.done = done;
    const t = this.now();
    this.samples.push([t, done]);
    while (this.samples.length > 2 && this.samples[0]![0] < t - RATE_WINDOW_MS) this.samples.shift();
    const complete = this.tty && this.total !== undefined && done >= this.total;
    if (complete || t - this.lastDraw >= (this.tty ? this.redrawMs : this.plainIntervalMs)) {
      this.lastDraw = t;
      this.draw();
    }
  }

  /** Final line (average rate over the whole run), then a newline. */
  finish(message?: string): void {
    if (this.finished) return;
    this.finished = true;
    const elapsed = (this.now() - this.started) / 1000;
    const rate = elapsed > 0 ? this.done / elapsed : undefined;
    const snap = this.snapshot(rate);
    const line =
      message ??
      `${snap.label}  ${formatBytes(this.done)} in ${elapsed.toFixed(1)} s${rate ? ` (${(rate / MiB).toFixed(1)} MiB/s)` : ''}`;
    this.stream.write(this.tty ? `\r\x1b[2K${line}\n` : `${line}\n`);
  }

  /** Clears the TTY line (on error) without a summary. */
  abort(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.tty) this.stream.write('\r\x1b[2K');
  }

  /** Current rate over the last few seconds, bytes/s. */
  rate(): number | undefined {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last[0] - first[0] < 200) return undefined;
    return ((last[1] - first[1]) * 1000) / (last[0] - first[0]);
  }

  private snapshot(rate: number | undefined): ProgressSnapshot {
    return {
      label: this.opts.label,
      done: this.done,
      ...(this.total !== undefined ? { total: this.total } : {}),
      ...(rate !== undefined ? { rate } : {}),
    };
  }

  private draw(): void {
    const snap = this.snapshot(this.rate());
    if (this.tty) this.stream.write(`\r\x1b[2K${renderBar(snap, this.stream.columns || 80)}`);
    else this.stream.write(`${snap.label}: ${formatStats(snap)}\n`);
  }
}
