/**
 * Answers that take a call to get (prices, a region's catalog), kept for a while: each key's
 * promise is shared by concurrent asks, kept `ttlMs`, at most `maxEntries` keys (the oldest go
 * first), and a failed one is forgotten so the next ask tries again.
 */
export interface PromiseCacheOptions {
  ttlMs: number;
  maxEntries: number;
  now: () => Date;
}

export class PromiseCache<T> {
  private readonly entries = new Map<string, { at: number; value: Promise<T> }>();

  constructor(private readonly opts: PromiseCacheOptions) {
    if (!(opts.ttlMs > 0) || !Number.isSafeInteger(opts.maxEntries) || opts.maxEntries < 1) {
      throw new RangeError('PromiseCache: ttlMs must be > 0 and maxEntries a whole number ≥ 1');
    }
  }

  get(key: string, load: () => Promise<T>): Promise<T> {
    const at = this.opts.now().getTime();
    const hit = this.entries.get(key);
    if (hit && at - hit.at < this.opts.ttlMs) return hit.value;
    const value = load();
    this.entries.delete(key);
    this.entries.set(key, { at, value });
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    while (this.entries.size > this.opts.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    return value;
  }
}
