/** Argument parsing the commands share: node:util's parseArgs with usage errors, the gateway flags. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { GatewayClient } from '../../shared/client/api-client';
import { DEFAULT_STATE_DIR, resolveGateway } from '../../shared/client/config';
import { UsageError } from './errors';
import type { Output } from './output';

export const HELP_OPTION = {
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

/** The flags of every command that talks to a gateway. */
export const GATEWAY_OPTIONS = {
  gateway: { type: 'string' },
  'api-key': { type: 'string' },
  'state-dir': { type: 'string' },
  ...HELP_OPTION,
} as const satisfies ParseArgsConfig['options'];

export const GATEWAY_HELP = `
Gateway:
  --gateway URL       the gateway's API URL (default: $BURSTGATE_GATEWAY, else <state-dir>/api-url)
  --api-key KEY       API key (default: $BURSTGATE_API_KEY, else <state-dir>/api-key)
  --state-dir DIR     the embedded deployment's state directory (default ${DEFAULT_STATE_DIR})`;

export function parse<O extends NonNullable<ParseArgsConfig['options']>>(
  command: string,
  args: string[],
  options: O,
) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(command, (e as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
}

/** The gateway client the flags, the environment or the state directory point at. */
export async function clientFrom(
  o: Output,
  values: { gateway?: string; 'api-key'?: string; 'state-dir'?: string },
): Promise<GatewayClient> {
  const settings = await resolveGateway({
    gateway: values.gateway,
    apiKey: values['api-key'],
    stateDir: values['state-dir'],
    env: o.io.env,
  });
  return new GatewayClient({ baseUrl: settings.baseUrl, apiKey: settings.apiKey });
}

export function onePositional(command: string, positionals: string[], what: string): string {
  if (positionals.length === 0) throw new UsageError(command, `missing ${what}`);
  if (positionals.length > 1) throw new UsageError(command, `unexpected argument '${positionals[1]}'`);
  return positionals[0]!;
}

export function noPositionals(command: string, positionals: string[]): void {
  if (positionals.length) throw new UsageError(command, `unexpected argument '${positionals[0]}'`);
}

export function positiveInt(
  command: string,
  flag: string,
  value: string | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(command, `--${flag} must be a positive integer, not '${value}'`);
  return n;
}

/** `--interval S` in milliseconds (default 2 s). */
export function intervalMs(command: string, value: string | undefined): number {
  if (value === undefined) return 2000;
  const s = Number(value);
  if (!Number.isFinite(s) || s <= 0)
    throw new UsageError(command, `--interval must be a number of seconds, not '${value}'`);
  return Math.round(s * 1000);
}
