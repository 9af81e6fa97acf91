/**
 * The CLI's own failures (how each ends: report.ts): wrong arguments, an expected failure with a
 * reason, a job that ended elsewhere than hoped.
 */

/** Wrong arguments: exit 2 and point at --help. */
export class UsageError extends Error {
  constructor(
    readonly command: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** An expected failure: exit 1 with a one-line reason and an optional hint. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** The job ended somewhere else than hoped (failed, return-failed...): exit 1, already reported. */
export class JobOutcome extends Error {}
