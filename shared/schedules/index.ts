export {
  MAX_EXPRESSION_LENGTH,
  MAX_OCCURRENCES,
  assertTimeZone,
  parseScheduleExpression,
  type ParsedSchedule,
  type ScheduleBounds,
  type ScheduleKind,
} from './schedule-expression';
export {
  ScheduleExpressionError,
  isScheduleExpressionError,
  type ScheduleErrorCode,
  type ScheduleErrorWhere,
} from './errors';
export { formatOffset, instantsOf, offsetMs, wallClock, wallClockMs, type WallClock } from './time-zone';
export { durationSeconds, isoDuration } from './iso-duration';
