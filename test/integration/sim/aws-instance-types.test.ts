/**
 * DescribeInstanceTypes on the AWS simulator through the real EC2 client: the facts right-sizing
 * reads, paging, EC2's refusals; and right-sizing over the catalog it answers.
 */
import { DescribeInstanceTypesCommand, type DescribeInstanceTypesCommandInput } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { describeInstanceFacts } from '../../../shared/clouds/aws/instance-facts';
import { rightSize } from '../../../shared/pricing/right-size';
import { INSTANCE_TYPE_FACTS } from '../../../infra/local/sim/aws/instance-types';
import { useSimEnv } from '../../helpers/aws-sim';

const env = useSimEnv();
const GiB = 1024 ** 3;

describe('AWS simulator: DescribeInstanceTypes', () => {
  it('answers the facts of a family as EC2 does, read into right-sizing facts', async () => {
    // Act
    const m7i = await describeInstanceFacts(env.ec2, ['m7i.*']);
    const t2 = await describeInstanceFacts(env.ec2, ['t2.micro']);

    // Assess
    expect(m7i).toEqual([
      {
        cloud: 'aws',
        name: 'm7i.large',
        family: 'm7i',
        vCPUs: 2,
        memoryMiB: 8192,
        architectures: ['x86_64'],
        firmware: ['bios', 'efi'],
        nitro: true,
      },
      expect.objectContaining({ name: 'm7i.xlarge', vCPUs: 4, memoryMiB: 16384 }),
    ]);
    // i386 is not an architecture a burst VM is sized for; Xen types have no NVMe or ENA
    expect(t2).toEqual([
      expect.objectContaining({ architectures: ['x86_64'], firmware: ['bios'], nitro: false }),
    ]);
  });

  it('pages with MaxResults and NextToken through every type, once each', async () => {
    // Act
    const names: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const out = await env.ec2.send(
        new DescribeInstanceTypesCommand({ MaxResults: 5, ...(token ? { NextToken: token } : {}) }),
      );
      names.push(...(out.InstanceTypes ?? []).map((t) => t.InstanceType!));
      token = out.NextToken;
      pages++;
    } while (token);

    // Assess
    expect(names.sort()).toEqual(Object.keys(INSTANCE_TYPE_FACTS).sort());
    expect(pages).toBe(Math.ceil(names.length / 5));
  });

  it.each<[DescribeInstanceTypesCommandInput, string, RegExp]>([
    [{ InstanceTypes: ['m7i.large', 'p5.48xlarge'] }, 'InvalidInstanceType', /\[p5\.48xlarge\]/],
    [{ MaxResults: 200 }, 'InvalidParameterValue', /between 5 and 100/],
    [{ Filters: [{ Name: 'gpu', Values: ['1'] }] }, 'InvalidParameterValue', /The filter 'gpu' is invalid/],
  ])('refuses %j with %s', async (input, code, message) => {
    // Act
    const err = await env.ec2.send(new DescribeInstanceTypesCommand(input)).catch((e: unknown) => e);

    // Assess
    expect(err).toMatchObject({ name: code, message: expect.stringMatching(message) });
  });

  it('right-sizes over the catalog it answers: a Xen type is passed over for direct mode', async () => {
    // Prepare
    const catalog = await describeInstanceFacts(env.ec2, ['t2.*', 't3.*']);
    const vm = { vCPUs: 2, memoryBytes: 6 * GiB, architecture: 'x86_64', firmware: 'bios' } as const;

    // Act
    const imported = rightSize(vm, catalog);
    const direct = rightSize(vm, catalog, { direct: true });

    // Assess
    expect(imported.chosen.name).toBe('t2.large');
    expect(direct.chosen.name).toBe('t3.large');
    expect(direct.rejected.find((r) => r.name === 't2.large')?.reasons).toEqual([
      'no NVMe/ENA (direct mode)',
    ]);
  });
});
