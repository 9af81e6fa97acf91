/**
 * The ISO-8601 durations schedules take and show (`PT60H`, `P2DT12H`, `PT90M`), both ways. Pure,
 * so that the on-prem client shows them without the gateway's request schemas.
 */

/**
 * ISO-8601 durations of days, hours, minutes and seconds (`PT60H`, `P2DT12H`, `PT90M`): the units
 * whose length is fixed. Months and years are refused (how long is "a month"?), and so are weeks
 * (write `P7D`).
 */
const DURATION = /^P(?:(\d{1,4})D)?(?:T(?:(\d{1,5})H)?(?:(\d{1,6})M)?(?:(\d{1,7})S)?)?$/;

/** Seconds of an ISO-8601 duration DURATION accepts; undefined when it is not one. */
export function durationSeconds(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m || text === 'P' || text.endsWith('T')) return undefined;
  const [d, h, min, s] = [m[1], m[2], m[3], m[4]].map((x) => Number(x ?? 0)) as [
    number,
    number,
    number,
    number,
  ];
  return d * 86400 + h * 3600 + min * 60 + s;
}

/** `PT2H`, `PT10M`, `P2DT12H`: seconds as an ISO-8601 duration (what durationSeconds reads). */
export function isoDuration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const time = `${h ? `${h}H` : ''}${m ? `${m}M` : ''}${s ? `${s}S` : ''}`;
  const text = `P${d ? `${d}D` : ''}${time ? `T${time}` : ''}`;
  return text === 'P' ? 'PT0S' : text;
}
