/**
 * Byte-range sets over a page blob, kept as sorted, merged, half-open [start, end) pairs. The
 * simulator records every page a write touches so that "pages changed since snapshot X" can be
 * answered the way Azure does: by what was written, not by comparing content.
 */
export type Range = [start: number, end: number];

export function addRange(set: Range[], start: number, end: number): Range[] {
  if (end <= start) return set;
  const out: Range[] = [];
  let s = start;
  let e = end;
  let placed = false;
  for (const [a, b] of set) {
    if (b < s) out.push([a, b]);
    else if (a > e) {
      if (!placed) {
        out.push([s, e]);
        placed = true;
      }
      out.push([a, b]);
    } else {
      s = Math.min(s, a);
      e = Math.max(e, b);
    }
  }
  if (!placed) out.push([s, e]);
  return out;
}

export function subtractRange(set: Range[], start: number, end: number): Range[] {
  if (end <= start) return set;
  const out: Range[] = [];
  for (const [a, b] of set) {
    if (b <= start || a >= end) {
      out.push([a, b]);
      continue;
    }
    if (a < start) out.push([a, start]);
    if (b > end) out.push([end, b]);
  }
  return out;
}

export function unionRanges(...sets: Range[][]): Range[] {
  let out: Range[] = [];
  for (const set of sets) for (const [a, b] of set) out = addRange(out, a, b);
  return out;
}

export function clipRanges(set: Range[], start: number, end: number): Range[] {
  const out: Range[] = [];
  for (const [a, b] of set) {
    const s = Math.max(a, start);
    const e = Math.min(b, end);
    if (e > s) out.push([s, e]);
  }
  return out;
}

/**
 * What changed on a blob since some point: pages last written with data, and pages last cleared.
 * A page is in at most one of the two.
 */
export interface PageChanges {
  written: Range[];
  cleared: Range[];
}

export const noChanges = (): PageChanges => ({ written: [], cleared: [] });

export function recordWrite(c: PageChanges, start: number, end: number, clear: boolean): PageChanges {
  return clear
    ? { written: subtractRange(c.written, start, end), cleared: addRange(c.cleared, start, end) }
    : { written: addRange(c.written, start, end), cleared: subtractRange(c.cleared, start, end) };
}

/** `later` applied after `earlier`: a later write or clear of a page wins. */
export function mergeChanges(earlier: PageChanges, later: PageChanges): PageChanges {
  let out = earlier;
  for (const [a, b] of later.written) out = recordWrite(out, a, b, false);
  for (const [a, b] of later.cleared) out = recordWrite(out, a, b, true);
  return out;
}
