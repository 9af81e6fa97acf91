/** Durations, instants and zones as the lease flags take them, and instants as the CLI shows them. */
import { describe, expect, it } from 'vitest';
import {
  TimeInputError,
  UTC,
  displayZone,
  formatInstant,
  formatSpan,
  parseDuration,
  parseInstant,
  relativeTo,
  zoneNamed,
} from '../../../shared/client/times';

const BERLIN = zoneNamed('Europe/Berlin');
const NEW_YORK = zoneNamed('America/New_York');

/** The TimeInputError `fn` throws. */
function thrown(fn: () => unknown): TimeInputError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TimeInputError);
    return e as TimeInputError;
  }
  throw new Error('expected a TimeInputError');
}

describe('parseDuration', () => {
  it('reads minutes, hours, days, weeks and combinations, largest unit first', () => {
    // Prepare
    const cases: Array<[string, number]> = [
      ['90m', 90 * 60],
      ['2h', 2 * 3600],
      ['3d', 3 * 86400],
      ['1h30m', 5400],
      ['1w', 7 * 86400],
      ['1w2d3h4m', 7 * 86400 + 2 * 86400 + 3 * 3600 + 4 * 60],
    ];
    // Act / Assess
    for (const [text, seconds] of cases) expect(parseDuration(text, '--by')).toBe(seconds);
  });

  it('refuses anything else, naming the flag and the value', () => {
    // Prepare
    const wrong = ['', '10', '1.5h', '2 h', ' 2h', '2H', '30m1h', '1h1h', '2s', '-2h', '2hours', 'P1D'];
    // Act / Assess
    for (const text of wrong) {
      const e = thrown(() => parseDuration(text, '--by'));
      expect(e.flag).toBe('--by');
      expect(e.value).toBe(text);
      expect(e.message).toBe(
        `--by: '${text}' is not a duration: use numbers with units w, d, h, m, largest first, e.g. 90m, 2h, 3d, 1h30m, 1w`,
      );
    }
  });

  it('refuses a duration of nothing', () => {
    // Act
    const e = thrown(() => parseDuration('0h0m', '--lease'));
    // Assess
    expect(e.message).toBe("--lease: '0h0m' is no time at all: pass more than 0");
  });
});

describe('formatSpan and relativeTo', () => {
  it('shows the two largest units that apply', () => {
    // Act / Assess
    expect(formatSpan(0)).toBe('0s');
    expect(formatSpan(45)).toBe('45s');
    expect(formatSpan(3600)).toBe('1h');
    expect(formatSpan(5400)).toBe('1h 30m');
    expect(formatSpan(9 * 86400 + 5 * 3600 + 59)).toBe('9d 5h');
    expect(formatSpan(-1200)).toBe('20m');
  });

  it('says which side of now an instant is', () => {
    // Prepare
    const now = new Date('2027-10-20T12:00:00Z');
    // Act / Assess
    expect(relativeTo(new Date('2027-10-22T15:00:00Z'), now)).toBe('in 2d 3h');
    expect(relativeTo(new Date('2027-10-20T11:15:00Z'), now)).toBe('45m ago');
  });
});

describe('parseInstant with an offset', () => {
  it('reads Z and numeric offsets, with or without seconds and fractions', () => {
    // Prepare
    const cases: Array<[string, string]> = [
      ['2027-10-22T16:00Z', '2027-10-22T16:00:00.000Z'],
      ['2027-10-22T18:00:00+02:00', '2027-10-22T16:00:00.000Z'],
      ['2027-10-22T18:00+0200', '2027-10-22T16:00:00.000Z'],
      ['2027-10-22T11:00-05', '2027-10-22T16:00:00.000Z'],
      ['2027-10-22T21:30:05.25+05:30', '2027-10-22T16:00:05.250Z'],
      ['2028-02-29T00:00Z', '2028-02-29T00:00:00.000Z'],
    ];
    // Act / Assess
    for (const [text, iso] of cases) {
      const parsed = parseInstant(text, '--until');
      expect(parsed.instant.toISOString()).toBe(iso);
      expect(parsed.note).toBeUndefined();
    }
  });

  it('ignores --tz when the value has its own offset', () => {
    // Act
    const parsed = parseInstant('2027-10-22T18:00+02:00', '--until', NEW_YORK);
    // Assess
    expect(parsed.instant.toISOString()).toBe('2027-10-22T16:00:00.000Z');
  });

  it('refuses what is not an ISO-8601 date-time, and days and times that do not exist', () => {
    // Prepare
    const notDateTimes = ['tomorrow', '2027-10-22', '2027-10-22 18:00Z', '2027-10-22t18:00Z', '1698000000'];
    // Act / Assess
    for (const text of notDateTimes) {
      expect(thrown(() => parseInstant(text, '--until')).message).toBe(
        `--until: '${text}' is not a date-time: use ISO-8601 with an offset (2027-10-22T18:00+02:00, ` +
          '2027-10-22T16:00Z) or a local date-time with --tz (2027-10-22T18:00 --tz Europe/Berlin)',
      );
    }
    for (const text of ['2027-02-29T12:00Z', '2027-13-01T12:00Z', '2027-10-22T24:00Z', '2027-10-22T18:60Z']) {
      expect(thrown(() => parseInstant(text, '--expires')).message).toBe(
        `--expires: '${text}' is not a date-time: there is no such day or time`,
      );
    }
  });
});

describe('parseInstant of a local date-time', () => {
  it('needs --tz: the machine zone would be a guess', () => {
    // Act
    const e = thrown(() => parseInstant('2027-10-22T18:00', '--return-by'));
    // Assess
    expect(e.message).toBe(
      "--return-by: '2027-10-22T18:00' has no offset: add one (2027-10-22T18:00+02:00, or 2027-10-22T18:00Z for UTC) " +
        'or name its zone with --tz, e.g. --tz Europe/Berlin',
    );
  });

  it('converts wall-clock time in the zone, summer and winter', () => {
    // Act / Assess
    expect(parseInstant('2027-10-22T18:00', '--until', BERLIN).instant.toISOString()).toBe(
      '2027-10-22T16:00:00.000Z',
    );
    expect(parseInstant('2027-12-22T18:00', '--until', BERLIN).instant.toISOString()).toBe(
      '2027-12-22T17:00:00.000Z',
    );
    expect(parseInstant('2027-07-01T09:30:15', '--until', NEW_YORK).instant.toISOString()).toBe(
      '2027-07-01T13:30:15.000Z',
    );
    expect(parseInstant('2027-10-22T18:00', '--until', UTC).instant.toISOString()).toBe(
      '2027-10-22T18:00:00.000Z',
    );
  });

  it('refuses a time in the spring-forward gap: Europe/Berlin 2027-03-28 02:30 does not exist', () => {
    // Act
    const e = thrown(() => parseInstant('2027-03-28T02:30', '--until', BERLIN));
    // Assess
    expect(e.message).toBe(
      '--until: 2027-03-28T02:30 does not exist in Europe/Berlin: the clocks move forward 60 minutes that day, ' +
        'skipping it; pick a time outside the gap, e.g. 2027-03-28T03:30',
    );
  });

  it('takes the times either side of the gap as they are', () => {
    // Act / Assess
    expect(parseInstant('2027-03-28T01:59', '--until', BERLIN).instant.toISOString()).toBe(
      '2027-03-28T00:59:00.000Z',
    );
    expect(parseInstant('2027-03-28T03:00', '--until', BERLIN).instant.toISOString()).toBe(
      '2027-03-28T01:00:00.000Z',
    );
  });

  it('takes the earlier instant in the fall-back overlap, and says so: Europe/Berlin 2027-10-31 02:30', () => {
    // Act
    const parsed = parseInstant('2027-10-31T02:30', '--until', BERLIN);
    // Assess
    expect(parsed.instant.toISOString()).toBe('2027-10-31T00:30:00.000Z');
    expect(parsed.note).toBe(
      '--until: 2027-10-31T02:30 happens twice in Europe/Berlin (the clocks go back that day): taken as the first, ' +
        '2027-10-31 00:30 UTC (02:30 CEST Europe/Berlin); for the second pass 2027-10-31T02:30+01:00',
    );
    // the offset the note offers names the second one
    expect(parseInstant('2027-10-31T02:30+01:00', '--until').instant.toISOString()).toBe(
      '2027-10-31T01:30:00.000Z',
    );
  });

  it('knows the other hemisphere and other rules: New York, Sydney', () => {
    // Act / Assess
    expect(() => parseInstant('2027-03-14T02:30', '--until', NEW_YORK)).toThrow(
      /does not exist in America\/New_York/,
    );
    expect(parseInstant('2027-11-07T01:30', '--until', NEW_YORK).instant.toISOString()).toBe(
      '2027-11-07T05:30:00.000Z',
    );
    expect(() => parseInstant('2027-10-03T02:30', '--until', zoneNamed('Australia/Sydney'))).toThrow(
      /does not exist in Australia\/Sydney/,
    );
  });
});

describe('zones', () => {
  it('names a zone Intl knows, and refuses one it does not', () => {
    // Act / Assess
    expect(zoneNamed('europe/berlin')).toEqual({ name: 'Europe/Berlin', utc: false });
    expect(zoneNamed('Etc/UTC').utc).toBe(true);
    expect(thrown(() => zoneNamed('Mars/Olympus')).message).toBe(
      "--tz: 'Mars/Olympus' is not an IANA time zone: use a name such as Europe/Berlin, America/New_York or UTC",
    );
  });

  it('shows times in --tz, else $TZ, else the machine zone', () => {
    // Prepare
    const machine = new Intl.DateTimeFormat().resolvedOptions().timeZone;
    // Act / Assess
    expect(displayZone('Asia/Tokyo', { TZ: 'Europe/Berlin' }).name).toBe('Asia/Tokyo');
    expect(displayZone(undefined, { TZ: 'Europe/Berlin' }).name).toBe('Europe/Berlin');
    expect(displayZone(undefined, { TZ: ':Europe/Paris' }).name).toBe('Europe/Paris');
    expect(displayZone(undefined, {}).name).toBe(zoneNamed(machine).name);
    // a POSIX TZ rule is no IANA name: the machine's zone
    expect(displayZone(undefined, { TZ: 'CET-1CEST' }).name).toBe(zoneNamed(machine).name);
    expect(() => displayZone('Nowhere', {})).toThrow(TimeInputError);
  });
});

describe('formatInstant', () => {
  it('shows UTC and the zone, with its abbreviation', () => {
    // Act / Assess
    expect(formatInstant('2027-10-22T16:00:00Z', BERLIN)).toBe(
      '2027-10-22 16:00 UTC (18:00 CEST Europe/Berlin)',
    );
    expect(formatInstant(new Date('2027-12-22T16:00:00Z'), BERLIN)).toBe(
      '2027-12-22 16:00 UTC (17:00 CET Europe/Berlin)',
    );
    expect(formatInstant('2027-10-22T16:00:00Z', NEW_YORK)).toBe(
      '2027-10-22 16:00 UTC (12:00 EDT America/New_York)',
    );
    expect(formatInstant('2027-12-22T16:00:00Z', zoneNamed('Europe/London'))).toBe(
      '2027-12-22 16:00 UTC (16:00 GMT Europe/London)',
    );
  });

  it("shows the zone's date when it is another day, and seconds when there are any", () => {
    // Act / Assess
    expect(formatInstant('2027-10-22T23:30:00Z', BERLIN)).toBe(
      '2027-10-22 23:30 UTC (2027-10-23 01:30 CEST Europe/Berlin)',
    );
    expect(formatInstant('2027-10-22T16:00:42.5Z', BERLIN)).toBe(
      '2027-10-22 16:00:42 UTC (18:00:42 CEST Europe/Berlin)',
    );
  });

  it('shows an offset where the zone has no abbreviation, and UTC alone for UTC', () => {
    // Act / Assess
    expect(formatInstant('2027-10-22T16:00:00Z', zoneNamed('Asia/Kolkata'))).toBe(
      '2027-10-22 16:00 UTC (21:30 UTC+05:30 Asia/Kolkata)',
    );
    expect(formatInstant('2027-10-22T16:00:00Z', zoneNamed('Etc/UTC'))).toBe('2027-10-22 16:00 UTC');
    expect(formatInstant('2027-10-22T16:00:00Z', UTC)).toBe('2027-10-22 16:00 UTC');
  });

  it('tells the two instants of a fall-back overlap apart', () => {
    // Act / Assess
    expect(formatInstant('2027-10-31T00:30:00Z', BERLIN)).toBe(
      '2027-10-31 00:30 UTC (02:30 CEST Europe/Berlin)',
    );
    expect(formatInstant('2027-10-31T01:30:00Z', BERLIN)).toBe(
      '2027-10-31 01:30 UTC (02:30 CET Europe/Berlin)',
    );
  });
});
