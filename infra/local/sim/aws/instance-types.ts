/**
 * The instance types the simulated account offers, with the facts EC2 DescribeInstanceTypes gives
 * for them (vCPUs, memory, architectures, boot modes, NVMe and ENA support, hypervisor), as AWS
 * lists them. RunInstances accepts these types only; Nitro ones require an ENA-enabled AMI.
 */
import { matchesFilters, type Handler } from './context';
import { Ec2Error, qFilters, qInt, qStr, qStrList, type XmlObject } from './protocol';

type Support = 'unsupported' | 'supported' | 'required';

export interface InstanceTypeFacts {
  vCPUs: number;
  memoryMiB: number;
  architectures: ReadonlyArray<'i386' | 'x86_64' | 'arm64'>;
  bootModes: ReadonlyArray<'legacy-bios' | 'uefi'>;
  nvme: Support;
  ena: Support;
  hypervisor: 'xen' | 'nitro';
  currentGeneration: boolean;
}

const XEN_OLD = {
  bootModes: ['legacy-bios'],
  nvme: 'unsupported',
  ena: 'unsupported',
  hypervisor: 'xen',
} as const;
const NITRO = {
  architectures: ['x86_64'],
  bootModes: ['legacy-bios', 'uefi'],
  nvme: 'required',
  ena: 'required',
  hypervisor: 'nitro',
  currentGeneration: true,
} as const;

const t2 = (vCPUs: number, memoryMiB: number, i386: boolean): InstanceTypeFacts => ({
  ...XEN_OLD,
  vCPUs,
  memoryMiB,
  architectures: i386 ? ['i386', 'x86_64'] : ['x86_64'],
  currentGeneration: true,
});
const nitro = (vCPUs: number, memoryMiB: number): InstanceTypeFacts => ({ ...NITRO, vCPUs, memoryMiB });

/** Facts as DescribeInstanceTypes answers them in us-east-1. */
export const INSTANCE_TYPE_FACTS: Readonly<Record<string, InstanceTypeFacts>> = {
  'm1.small': {
    ...XEN_OLD,
    vCPUs: 1,
    memoryMiB: 1740,
    architectures: ['i386', 'x86_64'],
    currentGeneration: false,
  },
  't2.nano': t2(1, 512, true),
  't2.micro': t2(1, 1024, true),
  't2.small': t2(1, 2048, true),
  't2.medium': t2(2, 4096, true),
  't2.large': t2(2, 8192, false),
  't2.xlarge': t2(4, 16384, false),
  't3.nano': nitro(2, 512),
  't3.micro': nitro(2, 1024),
  't3.small': nitro(2, 2048),
  't3.medium': nitro(2, 4096),
  't3.large': nitro(2, 8192),
  't3.xlarge': nitro(4, 16384),
  't3.2xlarge': nitro(8, 32768),
  't3a.micro': nitro(2, 1024),
  't3a.small': nitro(2, 2048),
  't3a.medium': nitro(2, 4096),
  't3a.large': nitro(2, 8192),
  'm5.large': nitro(2, 8192),
  'm5.xlarge': nitro(4, 16384),
  'm5.2xlarge': nitro(8, 32768),
  'm5.4xlarge': nitro(16, 65536),
  'm6i.large': nitro(2, 8192),
  'm6i.xlarge': nitro(4, 16384),
  'm6i.2xlarge': nitro(8, 32768),
  'm7i.large': nitro(2, 8192),
  'm7i.xlarge': nitro(4, 16384),
  'c5.large': nitro(2, 4096),
  'c5.xlarge': nitro(4, 8192),
  'c5.2xlarge': nitro(8, 16384),
  'c6i.large': nitro(2, 4096),
  'c6i.xlarge': nitro(4, 8192),
  'r5.large': nitro(2, 16384),
  'r5.xlarge': nitro(4, 32768),
  'r6i.large': nitro(2, 16384),
};

/** DescribeInstanceTypes' page size limits (MaxResults 5–100; 100 when not given). */
const MIN_RESULTS = 5;
const MAX_RESULTS = 100;

function instanceTypeXml(name: string, f: InstanceTypeFacts): XmlObject {
  return {
    instanceType: name,
    currentGeneration: f.currentGeneration,
    supportedUsageClasses: ['on-demand', 'spot'],
    supportedRootDeviceTypes: ['ebs'],
    supportedVirtualizationTypes: ['hvm'],
    bareMetal: false,
    hypervisor: f.hypervisor,
    processorInfo: { supportedArchitectures: [...f.architectures] },
    vCpuInfo: { defaultVCpus: f.vCPUs },
    memoryInfo: { sizeInMiB: f.memoryMiB },
    instanceStorageSupported: false,
    ebsInfo: {
      ebsOptimizedSupport: f.hypervisor === 'nitro' ? 'default' : 'unsupported',
      nvmeSupport: f.nvme,
    },
    networkInfo: { enaSupport: f.ena },
    supportedBootModes: [...f.bootModes],
  };
}

/**
 * DescribeInstanceTypes: InstanceType.N (each must exist), Filter.N (`instance-type` with
 * wildcards, `processor-info.supported-architecture`, `current-generation`, `vcpu-info.default-vcpus`,
 * `memory-info.size-in-mib`, `supported-boot-mode`), MaxResults and NextToken (an offset).
 */
export const describeInstanceTypes: Handler = (_ctx, params) => {
  const asked = qStrList(params, 'InstanceType');
  const unknown = asked.filter((t) => !(t in INSTANCE_TYPE_FACTS));
  if (unknown.length > 0) {
    throw new Ec2Error(
      'InvalidInstanceType',
      `The following supplied instance types do not exist: [${unknown.join(', ')}]`,
    );
  }
  const max = qInt(params, 'MaxResults') ?? MAX_RESULTS;
  if (max < MIN_RESULTS || max > MAX_RESULTS) {
    throw new Ec2Error(
      'InvalidParameterValue',
      `Value ( ${max} ) for parameter maxResults is invalid. Parameter must be between ${MIN_RESULTS} and ${MAX_RESULTS}.`,
    );
  }
  const token = qStr(params, 'NextToken');
  const start = token === undefined ? 0 : Number(token);
  if (!Number.isSafeInteger(start) || start < 0) {
    throw new Ec2Error('InvalidParameterValue', `Invalid value '${token}' for nextToken`);
  }
  const filters = qFilters(params, 'Filter');
  const matching = Object.entries(INSTANCE_TYPE_FACTS).filter(
    ([name, f]) =>
      (asked.length === 0 || asked.includes(name)) &&
      matchesFilters(
        filters,
        {
          'instance-type': [name],
          'processor-info.supported-architecture': [...f.architectures],
          'current-generation': [String(f.currentGeneration)],
          'vcpu-info.default-vcpus': [String(f.vCPUs)],
          'memory-info.size-in-mib': [String(f.memoryMiB)],
          'supported-boot-mode': [...f.bootModes],
        },
        [],
      ),
  );
  const page = matching.slice(start, start + max);
  const next = start + max < matching.length ? String(start + max) : undefined;
  return {
    instanceTypeSet: page.map(([name, f]) => instanceTypeXml(name, f)),
    ...(next ? { nextToken: next } : {}),
  };
};
