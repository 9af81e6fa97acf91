/**
 * The cloud target flags of `offload` and `schedule create`: --cloud and the flags of that cloud,
 * each wrong or misplaced one a usage error naming it.
 */
import type { JobTarget } from '../../shared/client/types';
import { UsageError } from './errors';

export const TARGET_OPTIONS = {
  cloud: { type: 'string' },
  to: { type: 'string' },
  region: { type: 'string' },
  'instance-type': { type: 'string' },
  mode: { type: 'string' },
  location: { type: 'string' },
  'vm-size': { type: 'string' },
  'resource-group': { type: 'string' },
} as const;

const CLOUDS = ['aws', 'azure'] as const;
const AWS_FLAGS = ['region', 'instance-type', 'mode'] as const;
const AWS_MODES = ['direct', 'import'] as const;
const AZURE_FLAGS = ['location', 'vm-size', 'resource-group'] as const;
const AZURE_EXAMPLE = '--cloud azure --location westeurope --vm-size Standard_D2s_v3';

/** The request's target from the flags; a flag of the other cloud is a usage error. */
export function targetFlags(
  command: string,
  values: {
    cloud?: string;
    to?: string;
    region?: string;
    'instance-type'?: string;
    mode?: string;
    location?: string;
    'vm-size'?: string;
    'resource-group'?: string;
  },
): JobTarget {
  if (values.cloud !== undefined && values.to !== undefined && values.cloud !== values.to) {
    throw new UsageError(
      command,
      `--cloud ${values.cloud} and --to ${values.to} disagree: pass only --cloud`,
    );
  }
  const cloud = values.cloud ?? values.to ?? 'aws';
  if (!(CLOUDS as readonly string[]).includes(cloud)) {
    throw new UsageError(command, `--cloud must be one of ${CLOUDS.join(', ')}, not '${cloud}'`);
  }
  const misplaced = (flags: readonly string[], other: string, instead: string): void => {
    const wrong = flags.find((f) => values[f as keyof typeof values] !== undefined);
    if (wrong)
      throw new UsageError(command, `--${wrong} is for --cloud ${other}; for ${cloud} use ${instead}`);
  };
  if (cloud === 'aws') {
    misplaced(AZURE_FLAGS, 'azure', '--region, --instance-type and --mode');
    const mode = values.mode;
    if (mode !== undefined && !(AWS_MODES as readonly string[]).includes(mode)) {
      throw new UsageError(command, `--mode must be one of ${AWS_MODES.join(', ')}, not '${mode}'`);
    }
    return {
      cloud: 'aws',
      region: values.region ?? 'us-east-1',
      instanceType: values['instance-type'] ?? 't3.medium',
      ...(mode !== undefined ? { mode: mode as (typeof AWS_MODES)[number] } : {}),
    };
  }
  misplaced(AWS_FLAGS, 'aws', '--location and --vm-size');
  const missing = (flag: string, what: string): UsageError =>
    new UsageError(command, `missing --${flag} (${what}) for --cloud azure, e.g. ${AZURE_EXAMPLE}`);
  if (values.location === undefined) throw missing('location', 'the Azure region');
  if (values['vm-size'] === undefined) throw missing('vm-size', 'the Azure VM size');
  return {
    cloud: 'azure',
    location: values.location,
    vmSize: values['vm-size'],
    ...(values['resource-group'] !== undefined ? { resourceGroup: values['resource-group'] } : {}),
  };
}
