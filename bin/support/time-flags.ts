/**
 * The time flags of `lease` and `offload`: --tz, durations and instants (shared/client/times.ts),
 * each wrong value a usage error naming the flag.
 */
import {
  TimeInputError,
  displayZone,
  parseDuration,
  parseInstant,
  zoneNamed,
  type Zone,
} from '../../shared/client/times';
import type { CreateOffloadRequest, JobLease } from '../../shared/client/types';
import { UsageError } from './errors';
import type { Output } from './output';

export const TZ_OPTION = { tz: { type: 'string' } } as const;

export const TZ_HELP = `  --tz ZONE           IANA time zone (Europe/Berlin) of local date-times given without an offset,
                      and the one times are shown in besides UTC (default: $TZ, else the machine's)`;

export const INSTANT_HELP = `Instants: ISO-8601 with an offset (2027-10-22T18:00+02:00, 2027-10-22T16:00Z), or a local
date-time with --tz (2027-10-22T18:00 --tz Europe/Berlin; a time the clocks skip is an error, one
they pass twice is the first). Durations: 90m, 2h, 3d, 1h30m, 1w.`;

/** The flags' zone and parsers for one command run. */
export interface TimeFlags {
  /** Where times are shown besides UTC. */
  zone: Zone;
  /** Seconds; a usage error for anything but a duration. */
  duration(flag: string, value: string): number;
  /** The instant; a local date-time needs --tz. Says on stderr how an ambiguous time was taken. */
  instant(flag: string, value: string): Date;
}

export function timeFlags(command: string, o: Output, tz: string | undefined): TimeFlags {
  const usage = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof TimeInputError) throw new UsageError(command, e.message);
      throw e;
    }
  };
  const explicit = tz === undefined ? undefined : usage(() => zoneNamed(tz));
  return {
    zone: explicit ?? displayZone(undefined, o.io.env),
    duration: (flag, value) => usage(() => parseDuration(value, flag)),
    instant: (flag, value) => {
      const parsed = usage(() => parseInstant(value, flag, explicit));
      if (parsed.note) o.err(`note: ${parsed.note}`);
      return parsed.instant;
    },
  };
}

const ON_EXPIRY = ['return', 'cancel'] as const;

/** `--on-expiry return|cancel`. */
export function onExpiryFlag(command: string, value: string | undefined): JobLease['onExpiry'] | undefined {
  if (value === undefined) return undefined;
  if (!(ON_EXPIRY as readonly string[]).includes(value)) {
    throw new UsageError(command, `--on-expiry must be one of ${ON_EXPIRY.join(', ')}, not '${value}'`);
  }
  return value as JobLease['onExpiry'];
}

export const OFFLOAD_LEASE_OPTIONS = {
  lease: { type: 'string' },
  'lease-until': { type: 'string' },
  'return-by': { type: 'string' },
  'on-expiry': { type: 'string' },
  ...TZ_OPTION,
} as const;

export const OFFLOAD_LEASE_HELP = `Lease (default: the gateway's, 7 days, then return):
  --lease DURATION    how long the VM may stay, counted from when the job is created (90m, 8h, 3d)
  --lease-until T     ...or until this instant
  --return-by T       the VM must be home by then: the return starts early enough, by estimate
  --on-expiry A       what happens when the lease ends: return (default) or cancel
${TZ_HELP}`;

/**
 * The create request's lease from `offload`'s flags, or undefined for the gateway's default. A
 * function: a relative `--lease` counts from the moment the create request is sent.
 */
export function offloadLease(
  flags: TimeFlags,
  values: { lease?: string; 'lease-until'?: string; 'return-by'?: string; 'on-expiry'?: string },
): (() => NonNullable<CreateOffloadRequest['lease']>) | undefined {
  if (values.lease !== undefined && values['lease-until'] !== undefined) {
    throw new UsageError(
      'offload',
      '--lease and --lease-until both given: pass one (a duration, or an instant)',
    );
  }
  const seconds = values.lease !== undefined ? flags.duration('--lease', values.lease) : undefined;
  const until =
    values['lease-until'] !== undefined ? flags.instant('--lease-until', values['lease-until']) : undefined;
  const returnBy =
    values['return-by'] !== undefined ? flags.instant('--return-by', values['return-by']) : undefined;
  const onExpiry = onExpiryFlag('offload', values['on-expiry']);
  if (seconds === undefined && until === undefined && returnBy === undefined && onExpiry === undefined) {
    return undefined;
  }
  return () => {
    const expiresAt = seconds !== undefined ? new Date(Date.now() + seconds * 1000) : until;
    return {
      ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}),
      ...(onExpiry ? { onExpiry } : {}),
      ...(returnBy ? { returnBy: returnBy.toISOString() } : {}),
    };
  };
}

/** `--launch-at T` or `--hold`: when the staged VM launches (undefined: at once). */
export function launchFlags(
  flags: TimeFlags,
  values: { 'launch-at'?: string; hold?: boolean },
): CreateOffloadRequest['launch'] | undefined {
  if (values['launch-at'] !== undefined && values.hold) {
    throw new UsageError(
      'offload',
      '--launch-at and --hold both given: pass one (a time, or a release by hand)',
    );
  }
  if (values.hold) return 'hold';
  if (values['launch-at'] === undefined) return undefined;
  return { at: flags.instant('--launch-at', values['launch-at']).toISOString() };
}
