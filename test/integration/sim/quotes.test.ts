/**
 * Quotes end to end through the simulators and the real clients: catalogs from
 * DescribeInstanceTypes and Resource SKUs, prices from GetProducts and the Retail Prices API (the
 * shipped list-price snapshot), right-sized and priced line by line. Every line is checked against
 * the computation written out here from the snapshot's prices (us-east-1, eastus), the Azure
 * disk-tier rounding included.
 */
import { PricingClient } from '@aws-sdk/client-pricing';
import { afterAll, describe, expect, it } from 'vitest';
import { describeInstanceFacts } from '../../../shared/clouds/aws/instance-facts';
import { AwsPriceListBook } from '../../../shared/clouds/aws/price-list';
import { AzureRetailPriceBook } from '../../../shared/clouds/azure/retail-prices';
import { listVmSizeFacts } from '../../../shared/clouds/azure/size-facts';
import { estimateGatewayUsage } from '../../../shared/pricing/gateway-usage';
import type { PriceBook, PriceKey } from '../../../shared/pricing/price-book';
import { quoteTarget, type QuoteOption, type QuoteTarget, type QuoteVm } from '../../../shared/pricing/quote';
import { useSimEnv } from '../../helpers/aws-sim';
import { FAST_TIMING, useAzureSim } from '../../helpers/azure-sim';

const aws = useSimEnv();
const azure = useAzureSim({ timing: FAST_TIMING });
const GiB = 1024 ** 3;
const HOURS = 72;
const MONTHS = HOURS / 730;

let pricing: PricingClient | undefined;
afterAll(() => pricing?.destroy());
/** One book for both clouds, as the gateway composes it: AWS keys to GetProducts, Azure keys to Retail Prices. */
function book(): PriceBook {
  pricing ??= new PricingClient({
    endpoint: aws.sim.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const a = new AwsPriceListBook(pricing);
  const z = new AzureRetailPriceBook({ endpoint: azure.sim.url, caPem: azure.sim.ca });
  return { price: (k: PriceKey) => (k.cloud === 'aws' ? a.price(k) : z.price(k)) };
}

async function quote(vm: QuoteVm, target: QuoteTarget): Promise<QuoteOption> {
  const catalog =
    target.cloud === 'aws'
      ? await describeInstanceFacts(aws.ec2, ['*'])
      : await listVmSizeFacts(azure.compute, target.region);
  return quoteTarget(vm, target, { hours: HOURS, gatewayRegion: 'us-east-1' }, { book: book(), catalog });
}

const LINUX_SMALL: QuoteVm = {
  vCPUs: 2,
  memoryBytes: 4 * GiB,
  architecture: 'x86_64',
  firmware: 'bios',
  os: 'linux',
  disks: [{ capacityBytes: 20 * GiB }],
};
const WINDOWS_LARGE: QuoteVm = {
  vCPUs: 8,
  memoryBytes: 32 * GiB,
  architecture: 'x86_64',
  firmware: 'efi',
  os: 'windows',
  disks: [{ capacityBytes: 200 * GiB }],
};
const LINUX_SPARSE: QuoteVm = {
  vCPUs: 4,
  memoryBytes: 16 * GiB,
  architecture: 'x86_64',
  firmware: 'bios',
  os: 'linux',
  disks: [{ capacityBytes: 500 * GiB, allocatedBytes: 200 * GiB }],
};

/** The snapshot's prices (us-east-1; eastus), per unit. */
const P = {
  gp3: 0.08,
  ebsSnapshot: 0.05,
  s3: 0.023,
  awsEgress: 0.09,
  s3Write: 0.000005,
  s3Read: 0.0000004,
  ebsPut: 0.000006,
  ebsGet: 0.000003,
  ebsList: 0.0000006,
  lambdaRequest: 0.0000002,
  lambdaGbSecond: 0.0000166667,
  transition: 0.000025,
  azureSnapshot: 0.05,
  azureEgress: 0.087,
  E4: 2.4,
  E15: 19.2,
  E20: 38.4,
};

function amounts(q: QuoteOption): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of q.lines) out[l.item] = (out[l.item] ?? 0) + l.amount;
  return out;
}

/** The gateway-fee lines: the usage model's counts at the snapshot's prices. */
function fees(path: 'aws-direct' | 'aws-import' | 'azure', image: number, allocated: number, back: number) {
  const u = estimateGatewayUsage(path, { imageBytes: image, allocatedBytes: allocated, returnBytes: back });
  const all: Record<string, number> = {
    's3-write-requests': u['s3-write-requests'] * P.s3Write,
    's3-read-requests': u['s3-read-requests'] * P.s3Read,
    'ebs-put-block': u['ebs-put-block'] * P.ebsPut,
    'ebs-get-block': u['ebs-get-block'] * P.ebsGet,
    'ebs-list-blocks': u['ebs-list-blocks'] * P.ebsList,
    'lambda-requests': u['lambda-requests'] * P.lambdaRequest,
    'lambda-gb-seconds': u['lambda-gb-seconds'] * P.lambdaGbSecond,
    'sfn-state-transitions': u['sfn-state-transitions'] * P.transition,
  };
  return Object.fromEntries(Object.entries(all).filter(([k]) => u[k as keyof typeof u] > 0));
}

function expectLines(q: QuoteOption, expected: Record<string, number>) {
  const got = amounts(q);
  expect(Object.keys(got).sort()).toEqual(Object.keys(expected).sort());
  for (const [item, amount] of Object.entries(expected)) expect(got[item], item).toBeCloseTo(amount, 5);
  expect(q.total).toBeCloseTo(
    Object.values(expected).reduce((s, a) => s + a, 0),
    5,
  );
}

describe('quotes for 72 h in us-east-1 (direct) and eastus', () => {
  it('2 vCPU / 4 GiB Linux BIOS, 20 GiB: t3a.medium and Standard_B2s, every line from the snapshot', async () => {
    // Act
    const a = await quote(LINUX_SMALL, { cloud: 'aws', region: 'us-east-1', mode: 'direct' });
    const z = await quote(LINUX_SMALL, { cloud: 'azure', region: 'eastus' });

    // Assess: AWS, return 10 % of 20 GiB
    expect(a.size).toBe('t3a.medium');
    expect(a.rightSizing.rejected.map((r) => [r.name, r.reasons])).toEqual([
      ['t3.micro', ['1024 MiB < 4096 MiB']],
      ['t3.small', ['2048 MiB < 4096 MiB']],
    ]);
    const back = Math.ceil(20 * GiB * 0.1);
    expectLines(a, {
      compute: 72 * 0.0376,
      disk: 20 * MONTHS * P.gp3,
      snapshot: 20 * MONTHS * P.ebsSnapshot,
      staging: 20 * MONTHS * P.s3,
      'return-egress-home': (back / GiB) * P.awsEgress,
      ...fees('aws-direct', 20 * GiB, 20 * GiB, back),
    });
    // Azure: 20 GiB rounds up to E4 (32 GiB), the whole tier billed
    expect(z.size).toBe('Standard_B2s');
    expect(z.lines.find((l) => l.item === 'disk')).toMatchObject({
      unit: 'month',
      unitPrice: P.E4,
      description: expect.stringContaining('E4 (32 GiB'),
    });
    expectLines(z, {
      compute: 72 * 0.0416,
      disk: MONTHS * P.E4,
      // the return's incremental snapshot, for at least an hour
      snapshot: 20 * (1 / 730) * P.azureSnapshot,
      'upload-egress': 20 * P.awsEgress,
      'return-egress-cloud': (back / GiB) * P.azureEgress,
      staging: 20 * MONTHS * P.s3,
      'return-egress-home': (back / GiB) * P.awsEgress,
      ...fees('azure', 20 * GiB, 20 * GiB, back),
    });
    // traceable: every line names its SKU or meter and effective date; prices say how old they are
    for (const l of [...a.lines, ...z.lines]) {
      expect(l.source.sku, l.item).not.toBe('');
      expect(l.source.rate, l.item).not.toBe('');
      expect(Date.parse(l.source.effectiveDate), l.item).toBeGreaterThan(0);
    }
    expect(a.lines.find((l) => l.item === 'compute')?.source.book).toBe('aws-price-list');
    expect(Date.parse(a.pricesFetchedAt)).toBeGreaterThan(0);
  });

  it('8 vCPU / 32 GiB Windows UEFI, 200 GiB: t3.2xlarge and Standard_D8s_v5 with their licences, on E15', async () => {
    // Act
    const a = await quote(WINDOWS_LARGE, { cloud: 'aws', region: 'us-east-1', mode: 'direct' });
    const z = await quote(WINDOWS_LARGE, { cloud: 'azure', region: 'eastus' });

    // Assess: every cheaper Windows type is named with why it does not fit
    expect(a.size).toBe('t3.2xlarge');
    expect(a.rightSizing.rejected.map((r) => r.name)).toEqual([
      't3.medium',
      't3.large',
      'c5.large',
      'c6i.large',
      'm5.large',
      'm6i.large',
      'm7i.large',
      'r5.large',
      't3.xlarge',
      'c5.xlarge',
      'm5.xlarge',
      'm6i.xlarge',
      'm7i.xlarge',
      'r5.xlarge',
    ]);
    expect(a.rightSizing.rejected.find((r) => r.name === 'r5.xlarge')?.reasons).toEqual(['4 vCPUs < 8']);
    const back = Math.ceil(200 * GiB * 0.1);
    expectLines(a, {
      compute: 72 * 0.48,
      disk: 200 * MONTHS * P.gp3,
      snapshot: 200 * MONTHS * P.ebsSnapshot,
      staging: 200 * MONTHS * P.s3,
      'return-egress-home': (back / GiB) * P.awsEgress,
      ...fees('aws-direct', 200 * GiB, 200 * GiB, back),
    });
    expect(z.size).toBe('Standard_D8s_v5');
    expect(z.rightSizing.rejected.map((r) => [r.name, r.reasons])).toContainEqual([
      'Standard_E4s_v5',
      ['4 vCPUs < 8'],
    ]);
    // 200 GiB rounds up to E15 (256 GiB)
    expectLines(z, {
      compute: 72 * 0.752,
      disk: MONTHS * P.E15,
      snapshot: 200 * (1 / 730) * P.azureSnapshot,
      'upload-egress': 200 * P.awsEgress,
      'return-egress-cloud': (back / GiB) * P.azureEgress,
      staging: 200 * MONTHS * P.s3,
      'return-egress-home': (back / GiB) * P.awsEgress,
      ...fees('azure', 200 * GiB, 200 * GiB, back),
    });
  });

  it('refuses to quote a size the price list has no price for, naming the price', async () => {
    const arm: QuoteVm = { ...LINUX_SMALL, os: 'windows', architecture: 'arm64', firmware: 'efi' };
    await expect(quote(arm, { cloud: 'azure', region: 'westeurope' })).rejects.toMatchObject({
      code: 'QUOTE_PRICE_MISSING',
      message: expect.stringContaining('azure:westeurope:compute:Standard_D2ps_v5:windows'),
    });
  });

  it('4 vCPU / 16 GiB Linux, 500 GiB with 40 % allocated: t3.xlarge and Standard_B4ms on E20', async () => {
    // Act
    const a = await quote(LINUX_SPARSE, { cloud: 'aws', region: 'us-east-1', mode: 'direct' });
    const imported = await quote(LINUX_SPARSE, { cloud: 'aws', region: 'us-east-1', mode: 'import' });
    const z = await quote(LINUX_SPARSE, { cloud: 'azure', region: 'eastus' });

    // Assess: the disk is billed on its capacity, snapshots and staging on its data
    const data = 200;
    const back = Math.ceil(200 * GiB * 0.1);
    expect(a.size).toBe('t3.xlarge');
    expectLines(a, {
      compute: 72 * 0.1664,
      disk: 500 * MONTHS * P.gp3,
      snapshot: data * MONTHS * P.ebsSnapshot,
      staging: data * MONTHS * P.s3,
      'return-egress-home': (back / GiB) * P.awsEgress,
      ...fees('aws-direct', 200 * GiB, 200 * GiB, back),
    });
    // import mode brings the whole disk's data home (an exported image), and uses no EBS direct APIs
    expectLines(imported, {
      compute: 72 * 0.1664,
      disk: 500 * MONTHS * P.gp3,
      snapshot: data * MONTHS * P.ebsSnapshot,
      staging: data * MONTHS * P.s3,
      'return-egress-home': data * P.awsEgress,
      ...fees('aws-import', 200 * GiB, 200 * GiB, 200 * GiB),
    });
    expect(z.size).toBe('Standard_B4ms');
    // 500 GiB rounds up to E20 (512 GiB)
    expectLines(z, {
      compute: 72 * 0.166,
      disk: MONTHS * P.E20,
      snapshot: data * (1 / 730) * P.azureSnapshot,
      'upload-egress': data * P.awsEgress,
      'return-egress-cloud': (back / GiB) * P.azureEgress,
      staging: data * MONTHS * P.s3,
      'return-egress-home': (back / GiB) * P.awsEgress,
      ...fees('azure', 200 * GiB, 200 * GiB, back),
    });
    // direct streams 200 GiB through the gateway (40 MiB/s); VM Import converts it (25 MiB/s)
    expect(a.secondsToRunning).toBe(600 + 5120);
    expect(imported.secondsToRunning).toBe(2400 + 8192);
  });

  it('refuses a profile that fits nothing, naming the largest type', async () => {
    const huge: QuoteVm = { ...LINUX_SMALL, vCPUs: 64, memoryBytes: 512 * GiB };
    await expect(quote(huge, { cloud: 'aws', region: 'us-east-1', mode: 'direct' })).rejects.toMatchObject({
      code: 'RIGHTSIZE_NOTHING_FITS',
      largest: 'm5.4xlarge',
    });
    await expect(quote(huge, { cloud: 'azure', region: 'eastus' })).rejects.toMatchObject({
      code: 'RIGHTSIZE_NOTHING_FITS',
      largest: 'Standard_D8s_v5',
    });
  });
});
