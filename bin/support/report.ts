/**
 * How every failure ends: one line (or two, with a hint) on stderr and an exit code — 0 done,
 * 1 failed, 2 usage error, 130 interrupted.
 */
import { GatewayClientError } from '../../shared/client/errors';
import { isImageError } from '../../shared/images/errors';
import { CliError, JobOutcome, UsageError } from './errors';
import type { Output } from './output';

/** Prints what `e` says went wrong and returns the exit code. */
export function report(o: Output, e: unknown): number {
  const { err } = o;
  if (e instanceof UsageError) {
    const where = e.command ? `burstgate ${e.command}` : 'burstgate';
    err(`${where}: ${e.message}`);
    err(`run \`${where} --help\` for usage`);
    return 2;
  }
  if (e instanceof JobOutcome) return 1;
  if (e instanceof CliError || e instanceof GatewayClientError) {
    if (e instanceof CliError && e.message === 'interrupted') return 130;
    err(`burstgate: ${e.message}`);
    if (e.hint) err(`hint: ${e.hint}`);
    return 1;
  }
  // a disk image or delta that is wrong (a return's rebuild, a conversion): its code says what
  if (isImageError(e)) {
    err(`burstgate: ${e.code}: ${e.message}`);
    return 1;
  }
  if ((e as { name?: string }).name === 'AbortError') return 130;
  err(`burstgate: unexpected error: ${(e as Error)?.message ?? String(e)}`);
  if (o.io.env.BURSTGATE_DEBUG) err((e as Error)?.stack ?? '');
  else err('hint: set BURSTGATE_DEBUG=1 for the stack trace, and report it');
  return 1;
}
