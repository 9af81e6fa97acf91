/**
 * Reads the six fields of an EventBridge cron() expression into a CronSpec, refusing what AWS
 * documents as invalid (the table and rules are in cron-spec.ts), with errors that name the
 * field, its number and the offset of the offending text.
 */
import { ScheduleExpressionError, quote, type ScheduleErrorCode } from './errors';
import { CRON_FIELDS, type CronFieldDef, type CronSpec, type DayOfMonth, type DayOfWeek } from './cron-spec';

/** A piece of the expression text and where it starts (0-based offset into the whole expression). */
interface Token {
  text: string;
  offset: number;
}

function fieldError(code: ScheduleErrorCode, f: CronFieldDef, token: Token, problem: string) {
  return new ScheduleExpressionError(
    code,
    `cron field ${f.number} (${f.name}) ${quote(token.text)} at offset ${token.offset} ${problem}`,
    { field: 'expression', cronField: f.number, cronFieldName: f.name, offset: token.offset },
  );
}

function notAllowed(f: CronFieldDef, token: Token, what: string): ScheduleExpressionError {
  return fieldError(
    'BG_SCHEDULE_FIELD_SYNTAX',
    f,
    token,
    `uses ${what}, which AWS does not allow in ${f.name} (it allows ${f.wildcards} and ${f.range}): ${f.use}`,
  );
}

/**
 * Parses the text between "cron(" and ")". `innerOffset` is where that text starts in `text`, so
 * offsets in errors point into the whole expression.
 */
export function parseCronFields(text: string, inner: string, innerOffset: number): CronSpec {
  const tokens = [...inner.matchAll(/[^ \t]+/g)].map((m) => ({ text: m[0], offset: innerOffset + m.index }));
  if (tokens.length !== 6) {
    const hint =
      tokens.length === 5
        ? '; a 5-field Unix cron needs a year field (*) and ? in day-of-month or day-of-week, e.g. cron(0 18 ? * MON-FRI *)'
        : tokens.length === 7
          ? '; AWS cron has no seconds field: drop the seconds'
          : ', e.g. cron(0 18 ? * MON-FRI *)';
    throw new ScheduleExpressionError(
      'BG_SCHEDULE_FIELD_COUNT',
      `cron expression ${quote(text)} has ${tokens.length} field${tokens.length === 1 ? '' : 's'} at offset ${innerOffset}; AWS needs exactly 6: minutes hours day-of-month month day-of-week year${hint}`,
      { field: 'expression', offset: innerOffset },
    );
  }
  const [min, hour, dom, month, dow, year] = tokens as [Token, Token, Token, Token, Token, Token];
  const [fMin, fHour, fDom, fMonth, fDow, fYear] = CRON_FIELDS as [
    CronFieldDef,
    CronFieldDef,
    CronFieldDef,
    CronFieldDef,
    CronFieldDef,
    CronFieldDef,
  ];
  const spec: CronSpec = {
    minutes: parseList(fMin, min),
    hours: parseList(fHour, hour),
    dayOfMonth: parseDayOfMonth(fDom, dom),
    months: parseList(fMonth, month),
    dayOfWeek: parseDayOfWeek(fDow, dow),
    years: parseList(fYear, year),
  };
  checkDays(text, spec, dom, dow);
  return spec;
}

function checkDays(text: string, spec: CronSpec, dom: Token, dow: Token): void {
  const domUnset = spec.dayOfMonth.kind === 'unset';
  const dowUnset = spec.dayOfWeek.kind === 'unset';
  if (domUnset !== dowUnset) return;
  const where = {
    field: 'expression' as const,
    cronField: 3,
    cronFieldName: 'day-of-month',
    offset: dom.offset,
  };
  const fields = `cron fields 3 (day-of-month) ${quote(dom.text)} at offset ${dom.offset} and 5 (day-of-week) ${quote(dow.text)} at offset ${dow.offset}`;
  if (domUnset) {
    throw new ScheduleExpressionError(
      'BG_SCHEDULE_DAY_CONFLICT',
      `${fields} are both ?: exactly one of them must be ?; put * or the days in the other, e.g. ${withDayOfMonth(text, dom, '*')}`,
      where,
    );
  }
  throw new ScheduleExpressionError(
    'BG_SCHEDULE_DAY_CONFLICT',
    `${fields} are both set: AWS does not allow a value or * in both, one of them must be ?, e.g. ${withDayOfMonth(text, dom, '?')} to run on day-of-week ${dow.text}`,
    where,
  );
}

function withDayOfMonth(text: string, dom: Token, replacement: string): string {
  return text.slice(0, dom.offset) + replacement + text.slice(dom.offset + dom.text.length);
}

function parseDayOfMonth(f: CronFieldDef, token: Token): DayOfMonth {
  const t = token.text.toUpperCase();
  if (t === '?') return { kind: 'unset' };
  if (t === 'L') return { kind: 'last' };
  if (t === 'LW') return { kind: 'last-weekday' };
  const nearest = /^(\d+)W$/.exec(t);
  if (nearest) {
    const day = parseValue(f, { text: nearest[1]!, offset: token.offset });
    return { kind: 'nearest-weekday', day };
  }
  if (/[LW]/.test(withoutNames(t))) {
    throw fieldError(
      'BG_SCHEDULE_FIELD_SYNTAX',
      f,
      token,
      'uses L or W with other values: L (last day), LW (last weekday) and nW (weekday nearest day n) must be the only value of day-of-month',
    );
  }
  return { kind: 'days', days: parseList(f, token) };
}

function parseDayOfWeek(f: CronFieldDef, token: Token): DayOfWeek {
  const t = token.text.toUpperCase();
  if (t === '?') return { kind: 'unset' };
  // "L" alone is the last day of the week: Saturday.
  if (t === 'L') return { kind: 'days', days: [7] };
  const last = /^([0-9]+|[A-Z]{3})L$/.exec(t);
  if (last) return { kind: 'last', day: parseValue(f, { text: last[1]!, offset: token.offset }) };
  const nth = /^([0-9]+|[A-Z]{3})#([0-9]+)$/.exec(t);
  if (nth) {
    const day = parseValue(f, { text: nth[1]!, offset: token.offset });
    const n = Number(nth[2]);
    if (!(n >= 1 && n <= 5)) {
      throw fieldError(
        'BG_SCHEDULE_FIELD_VALUE',
        f,
        token,
        `asks for occurrence ${nth[2]} of a weekday in a month: use 1-5 after # (${nth[1]}#1 is the first, ${nth[1]}#5 the fifth)`,
      );
    }
    return { kind: 'nth', day, nth: n };
  }
  if (t.includes('#')) {
    throw fieldError(
      'BG_SCHEDULE_FIELD_SYNTAX',
      f,
      token,
      'uses # with other values: a # (nth weekday, e.g. 6#3 = the third Friday) must be the only value of day-of-week ("3#1,6#3" is not valid)',
    );
  }
  if (withoutNames(t).includes('L')) {
    throw fieldError(
      'BG_SCHEDULE_FIELD_SYNTAX',
      f,
      token,
      'uses L with other values: L (Saturday) and nL (the last weekday n of the month, e.g. 6L) must be the only value of day-of-week',
    );
  }
  return { kind: 'days', days: parseList(f, token) };
}

/** A comma list of values, ranges and steps: the sorted set of values it names. */
function parseList(f: CronFieldDef, token: Token): number[] {
  const values = new Set<number>();
  let offset = token.offset;
  for (const text of token.text.split(',')) {
    const item = { text, offset };
    offset += text.length + 1;
    if (text === '') {
      throw fieldError(
        'BG_SCHEDULE_FIELD_SYNTAX',
        f,
        token,
        'has an empty item in its comma list: remove the extra comma',
      );
    }
    for (const v of parseItem(f, item)) values.add(v);
  }
  return [...values].sort((a, b) => a - b);
}

function parseItem(f: CronFieldDef, item: Token): number[] {
  const wildcard = /[?LW#]/i.exec(withoutNames(item.text));
  if (wildcard) {
    if (f.wildcards.includes(wildcard[0].toUpperCase())) {
      throw fieldError(
        'BG_SCHEDULE_FIELD_SYNTAX',
        f,
        item,
        `uses ${wildcard[0].toUpperCase()} in a list, range or step: it must be the whole field`,
      );
    }
    throw notAllowed(f, item, wildcard[0]);
  }
  const slash = item.text.indexOf('/');
  if (slash >= 0) {
    if (!f.wildcards.includes('/')) {
      throw notAllowed(f, item, '/ (increments)');
    }
    const base = { text: item.text.slice(0, slash), offset: item.offset };
    const stepToken = { text: item.text.slice(slash + 1), offset: item.offset + slash + 1 };
    const span = f.max - f.min + 1;
    if (base.text === '') {
      throw fieldError(
        'BG_SCHEDULE_FIELD_SYNTAX',
        f,
        item,
        `has no start before /: write */n or a/n, e.g. ${f.min}/5`,
      );
    }
    if (!/^[0-9]+$/.test(stepToken.text)) {
      throw fieldError(
        'BG_SCHEDULE_FIELD_SYNTAX',
        f,
        item,
        `has no whole-number step after /: write e.g. ${f.min}/5`,
      );
    }
    const step = Number(stepToken.text);
    if (step < 1 || step > span) {
      throw fieldError('BG_SCHEDULE_FIELD_VALUE', f, stepToken, `is not a step of 1-${span} for ${f.name}`);
    }
    const from = base.text === '*' ? sequence(f, f.min, f.max) : baseSequence(f, base);
    return from.filter((_, i) => i % step === 0);
  }
  if (item.text === '*') return sequence(f, f.min, f.max);
  const dash = item.text.indexOf('-', 1);
  if (dash > 0) return rangeValues(f, item, dash);
  return [parseValue(f, item)];
}

/** The values a step counts from: "a" (a to the maximum) or "a-b". */
function baseSequence(f: CronFieldDef, base: Token): number[] {
  const dash = base.text.indexOf('-', 1);
  if (dash > 0) return rangeValues(f, base, dash);
  return sequence(f, parseValue(f, base), f.max);
}

function rangeValues(f: CronFieldDef, item: Token, dash: number): number[] {
  if (dash === item.text.length - 1) {
    throw fieldError('BG_SCHEDULE_FIELD_SYNTAX', f, item, `is not a range a-b: it has no end after -`);
  }
  const lo = parseValue(f, { text: item.text.slice(0, dash), offset: item.offset });
  const hi = parseValue(f, { text: item.text.slice(dash + 1), offset: item.offset + dash + 1 });
  if (lo > hi && !f.wraps) {
    throw fieldError('BG_SCHEDULE_FIELD_VALUE', f, item, `runs backwards: write the earlier ${f.name} first`);
  }
  return sequence(f, lo, hi);
}

/** lo, lo+1, … hi, wrapping past the maximum to the minimum when lo > hi. */
function sequence(f: CronFieldDef, lo: number, hi: number): number[] {
  const out: number[] = [];
  if (lo <= hi) {
    for (let v = lo; v <= hi; v++) out.push(v);
  } else {
    for (let v = lo; v <= f.max; v++) out.push(v);
    for (let v = f.min; v <= hi; v++) out.push(v);
  }
  return out;
}

/**
 * The text without its three-letter words (month and weekday names, or not: parseValue judges
 * them), so the wildcard letters L and W are found only where they stand on their own.
 */
function withoutNames(text: string): string {
  return text.replace(/[A-Za-z]+/g, (run) => (run.length === 3 ? '' : run));
}

/** One number or name of the field, checked against its range. */
function parseValue(f: CronFieldDef, token: Token): number {
  if (/^[0-9]{1,9}$/.test(token.text)) {
    const v = Number(token.text);
    if (v < f.min || v > f.max) {
      throw fieldError('BG_SCHEDULE_FIELD_VALUE', f, token, `is out of range ${f.range}: ${f.use}`);
    }
    return v;
  }
  if (f.names && /^[A-Za-z]{3}$/.test(token.text)) {
    const i = f.names.indexOf(token.text.toUpperCase());
    if (i >= 0) return f.min + i;
    throw fieldError(
      'BG_SCHEDULE_FIELD_VALUE',
      f,
      token,
      `is not a ${f.name} name: use ${f.names[0]}-${f.names[f.names.length - 1]} or ${f.range}`,
    );
  }
  if (/^[0-9]+$/.test(token.text)) {
    throw fieldError('BG_SCHEDULE_FIELD_VALUE', f, token, `is out of range ${f.range}: ${f.use}`);
  }
  throw fieldError(
    'BG_SCHEDULE_FIELD_SYNTAX',
    f,
    token,
    `is not a value, range (a-b), step (a/n) or * of ${f.name}: ${f.use}; the wildcards here are ${f.wildcards}`,
  );
}
