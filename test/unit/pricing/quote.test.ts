import { describe, expect, it } from 'vitest';
import { LIST_PRICE_SNAPSHOT } from '../../../shared/pricing/list-price-snapshot';
import { azureDiskTier, quoteTarget, type QuoteVm } from '../../../shared/pricing/quote';
import type { InstanceFacts } from '../../../shared/pricing/right-size';
import { SnapshotPriceBook } from '../../../shared/pricing/snapshot-book';

const GiB = 1024 ** 3;
const book = new SnapshotPriceBook(LIST_PRICE_SNAPSHOT);
const catalog: InstanceFacts[] = [
  {
    cloud: 'aws',
    name: 'm5.large',
    family: 'm5',
    vCPUs: 2,
    memoryMiB: 8192,
    architectures: ['x86_64'],
    firmware: ['bios', 'efi'],
    nitro: true,
  },
];
const vm: QuoteVm = {
  vCPUs: 2,
  memoryBytes: 4 * GiB,
  architecture: 'x86_64',
  firmware: 'bios',
  os: 'linux',
  disks: [{ capacityBytes: 10 * GiB }],
};
const target = { cloud: 'aws', region: 'us-east-1', mode: 'direct' } as const;
const plan = { hours: 10, gatewayRegion: 'us-east-1' };

describe('quoteTarget', () => {
  it('rounds an Azure disk up to the tier that holds it, the boundary included', () => {
    expect(azureDiskTier(32 * GiB)).toEqual({ tier: 'E4', sizeGiB: 32 });
    expect(azureDiskTier(32 * GiB + 1)).toEqual({ tier: 'E6', sizeGiB: 64 });
    expect(azureDiskTier(1)).toEqual({ tier: 'E1', sizeGiB: 4 });
    expect(() => azureDiskTier(40_000 * GiB)).toThrow(expect.objectContaining({ code: 'QUOTE_BAD_REQUEST' }));
  });

  it.each([
    ['no hours', { ...plan, hours: 0 }, vm, /hours/],
    ['more than a year', { ...plan, hours: 9000 }, vm, /hours/],
    ['no disk', plan, { ...vm, disks: [] }, /at least one disk/],
    [
      'allocated beyond capacity',
      plan,
      { ...vm, disks: [{ capacityBytes: GiB, allocatedBytes: 2 * GiB }] },
      /allocatedBytes/,
    ],
    ['a change rate above 1', { ...plan, changeRate: 1.5 }, vm, /changeRate/],
  ])('refuses %s with QUOTE_BAD_REQUEST and looks up nothing', async (_what, p, v, message) => {
    let asked = 0;
    const counting = { price: (k: Parameters<typeof book.price>[0]) => (asked++, book.price(k)) };
    await expect(quoteTarget(v, target, p, { book: counting, catalog })).rejects.toMatchObject({
      code: 'QUOTE_BAD_REQUEST',
      message: expect.stringMatching(message),
    });
    expect(asked).toBe(0);
  });

  it('uses a stated return size instead of the change rate, and says what it leaves out', async () => {
    const q = await quoteTarget(vm, target, { ...plan, returnBytes: 5 * GiB }, { book, catalog });
    expect(q.lines.find((l) => l.item === 'return-egress-home')).toMatchObject({ quantity: 5, amount: 0.45 });
    expect(q.notQuoted).toContain(
      'free tiers and allowances of the account (S3, Lambda, egress) are not subtracted',
    );
  });

  it('refuses to quote with a price the book does not list, naming it', async () => {
    await expect(
      quoteTarget(vm, target, { ...plan, gatewayRegion: 'eu-central-1' }, { book, catalog }),
    ).rejects.toMatchObject({
      code: 'QUOTE_PRICE_MISSING',
      message: expect.stringContaining('aws:eu-central-1:object-storage'),
    });
  });
});
