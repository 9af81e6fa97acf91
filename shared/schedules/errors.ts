/**
 * One error family for the schedule-expression module. Every expression or time zone EventBridge
 * Scheduler would refuse, and every call the module cannot answer, is a ScheduleExpressionError
 * with a stable code, so the gateway's `/schedules` API can answer with the code and the message,
 * and the local EventBridge Scheduler stand-in can refuse what AWS refuses. README.md ("Error
 * codes") says when each code is thrown; a unit test keeps that table and this union equal to the
 * codes the source throws.
 */
export type ScheduleErrorCode =
  | 'BG_SCHEDULE_SYNTAX'
  | 'BG_SCHEDULE_TOO_LONG'
  | 'BG_SCHEDULE_FIELD_COUNT'
  | 'BG_SCHEDULE_FIELD_SYNTAX'
  | 'BG_SCHEDULE_FIELD_VALUE'
  | 'BG_SCHEDULE_DAY_CONFLICT'
  | 'BG_SCHEDULE_RATE'
  | 'BG_SCHEDULE_AT'
  | 'BG_SCHEDULE_AT_DST_GAP'
  | 'BG_SCHEDULE_TIMEZONE'
  | 'BG_SCHEDULE_ARGUMENT';

/** Where in the input the problem is. */
export interface ScheduleErrorWhere {
  /** Which input is wrong: the schedule expression or the time zone. */
  field: 'expression' | 'timeZone';
  /** 1-based cron field number: 1 minutes … 6 year */
  cronField?: number;
  /** cron field name, e.g. "day-of-week" */
  cronFieldName?: string;
  /** 0-based character offset into the expression text */
  offset?: number;
}

export class ScheduleExpressionError extends Error {
  override readonly name = 'ScheduleExpressionError';

  constructor(
    readonly code: ScheduleErrorCode,
    message: string,
    readonly where: ScheduleErrorWhere,
  ) {
    super(message);
  }
}

export function isScheduleExpressionError(
  err: unknown,
  code?: ScheduleErrorCode,
): err is ScheduleExpressionError {
  return err instanceof ScheduleExpressionError && (code === undefined || err.code === code);
}

/** A caller's mistake in an argument of next()/occurrences() (not the expression's fault). */
export function invalidArgument(message: string): ScheduleExpressionError {
  return new ScheduleExpressionError('BG_SCHEDULE_ARGUMENT', message, { field: 'expression' });
}

/** The text of user input for a message: quoted, and cut short when it is long (hostile input). */
export function quote(text: string, max = 60): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}
