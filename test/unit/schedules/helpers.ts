import { parseScheduleExpression, type ScheduleBounds } from '../../../shared/schedules';

/** The next `count` fire times of `expression` in `timeZone` after `after`, as ISO strings. */
export function fireTimes(
  expression: string,
  after: string,
  count: number,
  timeZone = 'UTC',
  bounds?: ScheduleBounds,
): string[] {
  return parseScheduleExpression(expression, timeZone)
    .occurrences(new Date(after), count, bounds)
    .map((d) => d.toISOString());
}

/** The error `fn` throws (failing the test when it throws nothing). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error, none was thrown');
}
