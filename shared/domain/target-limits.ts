/**
 * Where a deployment lets its callers run VMs: the AWS regions and EC2 instance types, the Azure
 * locations and VM sizes it allows. A syntactically valid target is not enough: without a list any
 * key could launch a p5.48xlarge in any region. The defaults are the commercial AWS regions and the
 * Azure public regions, with the general-purpose, compute and memory families that VM Import and
 * Azure's managed disks from a VHD take (no GPU, HPC or huge-memory families). The AWS lists are
 * also IAM conditions on RunInstances, so they are set where the stack is made: CDK context
 * `burstgate:awsRegions` and `burstgate:instanceTypes` replace them (wider or narrower), and the
 * stack hands them to the functions. An operator narrows them further with BURSTGATE_AWS_REGIONS,
 * BURSTGATE_INSTANCE_TYPES, and replaces the Azure ones with BURSTGATE_AZURE_LOCATIONS,
 * BURSTGATE_AZURE_VM_SIZES (comma-separated). Patterns use `*` and `?` as IAM's StringLike does.
 */
import { ValidationError } from './errors';

export interface TargetLimits {
  awsRegions: readonly string[];
  instanceTypes: readonly string[];
  azureLocations: readonly string[];
  azureVmSizes: readonly string[];
}

export const DEFAULT_TARGET_LIMITS: TargetLimits = {
  awsRegions: [
    'us-east-1',
    'us-east-2',
    'us-west-1',
    'us-west-2',
    'ca-central-1',
    'ca-west-1',
    'mx-central-1',
    'sa-east-1',
    'eu-central-1',
    'eu-central-2',
    'eu-west-1',
    'eu-west-2',
    'eu-west-3',
    'eu-south-1',
    'eu-south-2',
    'eu-north-1',
    'il-central-1',
    'me-south-1',
    'me-central-1',
    'af-south-1',
    'ap-east-1',
    'ap-south-1',
    'ap-south-2',
    'ap-northeast-1',
    'ap-northeast-2',
    'ap-northeast-3',
    'ap-southeast-1',
    'ap-southeast-2',
    'ap-southeast-3',
    'ap-southeast-4',
    'ap-southeast-5',
    'ap-southeast-7',
  ],
  instanceTypes: [
    't2.*',
    't3.*',
    't3a.*',
    'm5.*',
    'm5a.*',
    'm5n.*',
    'm6i.*',
    'm6a.*',
    'm7i.*',
    'm7a.*',
    'c5.*',
    'c5a.*',
    'c6i.*',
    'c6a.*',
    'c7i.*',
    'c7a.*',
    'r5.*',
    'r5a.*',
    'r6i.*',
    'r6a.*',
    'r7i.*',
    'r7a.*',
  ],
  azureLocations: [
    'eastus',
    'eastus2',
    'centralus',
    'northcentralus',
    'southcentralus',
    'westcentralus',
    'westus',
    'westus2',
    'westus3',
    'canadacentral',
    'canadaeast',
    'mexicocentral',
    'brazilsouth',
    'northeurope',
    'westeurope',
    'uksouth',
    'ukwest',
    'francecentral',
    'germanywestcentral',
    'switzerlandnorth',
    'norwayeast',
    'swedencentral',
    'polandcentral',
    'italynorth',
    'spaincentral',
    'israelcentral',
    'uaenorth',
    'qatarcentral',
    'southafricanorth',
    'centralindia',
    'southindia',
    'eastasia',
    'southeastasia',
    'japaneast',
    'japanwest',
    'koreacentral',
    'australiaeast',
    'australiasoutheast',
  ],
  azureVmSizes: ['Standard_B*', 'Standard_D*', 'Standard_E*', 'Standard_F*'],
};

/** The AWS lists the stack's launch permissions hold (IAM conditions); the functions may only narrow them. */
export type AwsLaunchLimits = Pick<TargetLimits, 'awsRegions' | 'instanceTypes'>;

// Regions are matched with StringEquals (aws:RequestedRegion): names only. An instance type pattern
// names its family: `p5.*` is a deliberate choice, `*` or `*.large` would let any family through.
const REGION_NAME = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const INSTANCE_TYPE_PATTERN = /^[a-z][a-z0-9-]*\.[a-z0-9*?-]+$/;

/**
 * A launch allow-list as CDK context gives it (`a,b` on the command line, an array in cdk.json);
 * undefined when absent. Throws naming the context key and the entries that are not a region name
 * or an instance type pattern with a family.
 */
export function parseAwsLaunchList(
  kind: keyof AwsLaunchLimits,
  raw: unknown,
  key: string,
): readonly string[] | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const items = (Array.isArray(raw) ? raw.map(String) : String(raw).split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  const shape = kind === 'awsRegions' ? REGION_NAME : INSTANCE_TYPE_PATTERN;
  const bad = items.filter((i) => !shape.test(i));
  if (items.length === 0 || bad.length > 0) {
    const what =
      kind === 'awsRegions'
        ? 'AWS region names (us-east-1,eu-central-1)'
        : 'instance types or patterns that name the family (m7i.*,c6i.large)';
    throw new Error(
      `context ${key} must be a comma-separated list of ${what}; not one: ${bad.length ? bad.join(', ') : '(empty)'}`,
    );
  }
  return [...new Set(items)];
}

/** IAM's StringLike: `*` any run of characters, `?` one; case-sensitive. */
export function likePattern(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(value);
}

type Target =
  | { cloud: 'aws'; region: string; instanceType?: string }
  | { cloud: 'azure'; location: string; vmSize?: string };

/**
 * Refuses a target outside the limits: a ValidationError naming `<path>.region` (...) and the list.
 * A target without a size (a quote picks one) is checked for its region or location only.
 */
export function checkTargetLimits(target: Target, limits: TargetLimits, path: string): void {
  const refuse = (member: string, value: string, allowed: readonly string[], what: string): never => {
    throw new ValidationError(
      `${path}.${member}: ${value} is not among the ${what} this gateway allows (${allowed.join(', ')}); ask its operator to add it`,
      [{ path: `${path}.${member}`, message: `not an allowed ${what.replace(/s$/, '')}` }],
    );
  };
  if (target.cloud === 'aws') {
    if (!limits.awsRegions.includes(target.region))
      refuse('region', target.region, limits.awsRegions, 'AWS regions');
    const type = target.instanceType;
    if (type !== undefined && !limits.instanceTypes.some((p) => likePattern(p, type))) {
      refuse('instanceType', type, limits.instanceTypes, 'instance types');
    }
    return;
  }
  if (!limits.azureLocations.includes(target.location)) {
    refuse('location', target.location, limits.azureLocations, 'Azure locations');
  }
  const size = target.vmSize;
  if (size !== undefined && !limits.azureVmSizes.some((p) => likePattern(p, size))) {
    refuse('vmSize', size, limits.azureVmSizes, 'VM sizes');
  }
}
