// PROVISIONAL: replaced by the real translator at merge
/** The one error family of schedule expressions: a stable code and where in the input it lies. */

export interface ScheduleExpressionWhere {
  field: 'expression' | 'timeZone';
  /** 1-based position of the cron field at fault (minutes = 1 … year = 6). */
  cronField?: number;
  cronFieldName?: string;
  /** Character offset in the expression text. */
  offset?: number;
}

export class ScheduleExpressionError extends Error {
  override name = 'ScheduleExpressionError';
  constructor(
    readonly code: string,
    message: string,
    readonly where: ScheduleExpressionWhere,
  ) {
    super(message);
  }
}
