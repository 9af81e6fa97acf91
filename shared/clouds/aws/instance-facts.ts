/**
 * A region's instance types as right-sizing reads them (shared/pricing/right-size.ts), from EC2
 * DescribeInstanceTypes: vCPUs, memory, architectures, boot modes, and whether a type is Nitro
 * (NVMe storage and ENA networking, which AWS direct mode's images get).
 */
import { DescribeInstanceTypesCommand, type EC2Client, type InstanceTypeInfo } from '@aws-sdk/client-ec2';
import type { CpuArchitecture, Firmware, InstanceFacts } from '../../pricing/right-size';
import { CloudError, classifyCloudError } from '../errors';

/** DescribeInstanceTypes pages at most 100; EC2 has about 1000 types in a region. */
const PAGE = 100;
const MAX_PAGES = 30;

const ARCHITECTURES: ReadonlySet<string> = new Set<CpuArchitecture>(['x86_64', 'arm64']);
const FIRMWARE: Readonly<Record<string, Firmware>> = { 'legacy-bios': 'bios', uefi: 'efi' };

/**
 * The region's types whose names match one of `patterns` (EC2's filter wildcards: `m7i.*`). A
 * type EC2 describes without vCPUs or memory is left out: it cannot be sized.
 */
export async function describeInstanceFacts(
  ec2: EC2Client,
  patterns: readonly string[],
): Promise<InstanceFacts[]> {
  const facts: InstanceFacts[] = [];
  let token: string | undefined;
  for (let page = 0; ; page++) {
    if (page === MAX_PAGES) {
      throw new CloudError(
        'CloudUnavailable',
        `DescribeInstanceTypes still had more after ${MAX_PAGES} pages of ${PAGE}: narrow the patterns (${patterns.join(', ')})`,
      );
    }
    let out;
    try {
      out = await ec2.send(
        new DescribeInstanceTypesCommand({
          Filters: [{ Name: 'instance-type', Values: [...patterns] }],
          MaxResults: PAGE,
          ...(token ? { NextToken: token } : {}),
        }),
      );
    } catch (err) {
      throw classifyCloudError(err, 'DescribeInstanceTypes');
    }
    for (const info of out.InstanceTypes ?? []) {
      const f = factsOf(info);
      if (f) facts.push(f);
    }
    token = out.NextToken;
    if (!token) return facts;
  }
}

function factsOf(info: InstanceTypeInfo): InstanceFacts | undefined {
  const name = info.InstanceType;
  const vCPUs = info.VCpuInfo?.DefaultVCpus;
  const memoryMiB = info.MemoryInfo?.SizeInMiB;
  if (!name || vCPUs === undefined || memoryMiB === undefined) return undefined;
  return {
    cloud: 'aws',
    name,
    family: name.split('.')[0] ?? name,
    vCPUs,
    memoryMiB,
    architectures: (info.ProcessorInfo?.SupportedArchitectures ?? []).filter((a): a is CpuArchitecture =>
      ARCHITECTURES.has(a),
    ),
    firmware: (info.SupportedBootModes ?? []).flatMap((m) => (FIRMWARE[m] ? [FIRMWARE[m]] : [])),
    nitro:
      (info.EbsInfo?.NvmeSupport ?? 'unsupported') !== 'unsupported' &&
      (info.NetworkInfo?.EnaSupport ?? 'unsupported') !== 'unsupported',
  };
}
