/**
 * The Azure part of the list-price snapshot (list-price-snapshot.ts says where each figure comes
 * from): eastus and westeurope items in the Retail Prices API's shape.
 */
import type { AzureRetailPriceItem } from './azure-meters';

/** A row whose source states no date: the day the snapshot was taken. */
const UNDATED = '2026-12-08T00:00:00Z';

const AZURE_REGIONS = { eastus: 'US East', westeurope: 'EU West' } as const;
type AzureRegion = keyof typeof AZURE_REGIONS;
const KARPENTER_AZURE = '2026-06-18T00:00:00Z';

function azureItem(
  region: AzureRegion,
  over: Partial<AzureRetailPriceItem> & Pick<AzureRetailPriceItem, 'retailPrice'>,
): AzureRetailPriceItem {
  return {
    currencyCode: 'USD',
    tierMinimumUnits: 0,
    unitPrice: over.retailPrice,
    armRegionName: region,
    location: AZURE_REGIONS[region],
    effectiveStartDate: KARPENTER_AZURE,
    meterId: '',
    meterName: '',
    productId: '',
    skuId: '',
    productName: '',
    skuName: '',
    serviceName: '',
    serviceId: '',
    serviceFamily: '',
    unitOfMeasure: '1 Hour',
    type: 'Consumption',
    isPrimaryMeterRegion: true,
    armSkuName: '',
    ...over,
  };
}

/** [armSkuName, series (as in productName), eastus, westeurope] Linux USD/h. */
const AZURE_LINUX: ReadonlyArray<readonly [string, string, number, number]> = [
  ['Standard_A2_v2', 'Av2', 0.0903, 0.0861],
  ['Standard_B2s', 'BS', 0.0416, 0.048],
  ['Standard_B2ms', 'BS', 0.0832, 0.096],
  ['Standard_B4ms', 'BS', 0.166, 0.192],
  ['Standard_D2s_v3', 'DSv3', 0.096, 0.12],
  ['Standard_D2s_v5', 'Dsv5', 0.096, 0.115],
  ['Standard_D4s_v5', 'Dsv5', 0.192, 0.23],
  ['Standard_D8s_v5', 'Dsv5', 0.384, 0.46],
  ['Standard_D2ps_v5', 'Dpsv5', 0.077, 0.092],
  ['Standard_E2s_v5', 'Esv5', 0.126, 0.152],
  ['Standard_E4s_v5', 'Esv5', 0.252, 0.304],
  ['Standard_F2s_v2', 'FSv2', 0.0846, 0.097],
  ['Standard_F4s_v2', 'FSv2', 0.169, 0.194],
];

/** [armSkuName, series, Windows USD/h, productId of the Windows product] in eastus. */
const AZURE_WINDOWS_EASTUS: ReadonlyArray<readonly [string, string, number, string]> = [
  ['Standard_A2_v2', 'Av2', 0.136, 'DZH318Z0BPW1'],
  ['Standard_B2s', 'BS', 0.0496, 'DZH318Z0BQNH'],
  ['Standard_B2ms', 'BS', 0.0912, 'DZH318Z0BQNH'],
  ['Standard_B4ms', 'BS', 0.182, 'DZH318Z0BQNH'],
  ['Standard_D2s_v3', 'DSv3', 0.188, 'DZH318Z0BPWD'],
  ['Standard_D2s_v5', 'Dsv5', 0.188, 'DZH318Z08M9T'],
  ['Standard_D4s_v5', 'Dsv5', 0.376, 'DZH318Z08M9T'],
  ['Standard_D8s_v5', 'Dsv5', 0.752, 'DZH318Z08M9T'],
  ['Standard_E2s_v5', 'Esv5', 0.218, 'DZH318Z096T1'],
  ['Standard_E4s_v5', 'Esv5', 0.436, 'DZH318Z096T1'],
  ['Standard_F2s_v2', 'FSv2', 0.177, 'DZH318Z0BPWJ'],
  ['Standard_F4s_v2', 'FSv2', 0.354, 'DZH318Z0BPWJ'],
];
/** Windows rates: a weekly table generated from the Retail Prices API (its last update). */
const WINDOWS_TABLE = '2026-08-17T00:00:00Z';

interface KnownIds {
  meterId: string;
  productId: string;
  skuId: string;
  effectiveStartDate?: string;
}

/** Meter and SKU ids (and dates) that captured Retail Prices items showed, by region, size and OS. */
const AZURE_IDS: Readonly<Record<string, KnownIds>> = {
  'westeurope Standard_D2s_v5 linux': {
    meterId: '0561adcb-1c48-542e-9e0c-10dea22fc392',
    productId: 'DZH318Z08M9W',
    skuId: 'DZH318Z08M9W/0092',
    effectiveStartDate: '2021-11-01T00:00:00Z',
  },
  'westeurope Standard_D2s_v5 windows': {
    meterId: '8aec24e5-8c37-581b-af93-3d8d785f272d',
    productId: 'DZH318Z08M9T',
    skuId: 'DZH318Z08M9T/005G',
    effectiveStartDate: '2021-11-01T00:00:00Z',
  },
  'eastus Standard_D2s_v3 linux': {
    meterId: 'ae331802-83a5-4b9e-b287-85675f794e3d',
    productId: 'DZH318Z0BQ50',
    skuId: 'DZH318Z0BQ50/00VV',
  },
  'eastus Standard_D2s_v3 windows': {
    meterId: 'b1ecee3b-bd38-4d2b-a18c-5d8099e23450',
    productId: 'DZH318Z0BPWD',
    skuId: 'DZH318Z0BPWD/00FN',
    effectiveStartDate: '2017-12-15T00:00:00Z',
  },
};

function azureVm(
  region: AzureRegion,
  arm: string,
  series: string,
  os: 'linux' | 'windows',
  price: number,
  productId?: string,
): AzureRetailPriceItem[] {
  const meterName = arm.replace(/^Standard_/, '').replace(/_/g, ' ');
  const known = AZURE_IDS[`${region} ${arm} ${os}`];
  const ids = known ?? {
    meterId: `bg:meter:${region}:${arm}:${os}`,
    productId: productId ?? `bg:product:${series}${os === 'windows' ? ':windows' : ''}`,
    skuId: `bg:sku:${region}:${arm}:${os}`,
  };
  return [
    azureItem(region, {
      serviceName: 'Virtual Machines',
      serviceId: 'DZH313Z7MMC8',
      serviceFamily: 'Compute',
      armSkuName: arm,
      productName: `Virtual Machines ${series} Series${os === 'windows' ? ' Windows' : ''}`,
      ...(os === 'windows' ? { effectiveStartDate: WINDOWS_TABLE } : {}),
      ...ids,
      meterName,
      skuName: meterName,
      retailPrice: price,
    }),
  ];
}

/** Standard SSD tiers, USD per disk-month (eastus; westeurope lists the same for E4, E15, E20). */
const STANDARD_SSD_EASTUS: ReadonlyArray<readonly [string, number]> = [
  ['E1', 0.3],
  ['E2', 0.6],
  ['E4', 2.4],
  ['E6', 4.8],
  ['E10', 9.6],
  ['E15', 19.2],
  ['E20', 38.4],
  ['E30', 76.8],
  ['E40', 153.6],
];

function standardSsd(region: AzureRegion, tier: string, price: number, date: string): AzureRetailPriceItem {
  return azureItem(region, {
    serviceName: 'Storage',
    serviceId: 'bg:service:storage',
    serviceFamily: 'Storage',
    productName: 'Standard SSD Managed Disks',
    productId: region === 'eastus' ? 'DZH318Z0BP88' : 'bg:product:standard-ssd-managed-disks',
    skuName: `${tier} LRS`,
    skuId: `bg:sku:${region}:${tier}-lrs`,
    meterName: `${tier} LRS Disk`,
    meterId: `bg:meter:${region}:${tier}-lrs-disk`,
    unitOfMeasure: '1/Month',
    effectiveStartDate: date,
    retailPrice: price,
  });
}

/** Incremental snapshots are billed on standard HDD storage. */
function lrsSnapshots(region: AzureRegion, date: string): AzureRetailPriceItem {
  return azureItem(region, {
    serviceName: 'Storage',
    serviceId: 'bg:service:storage',
    serviceFamily: 'Storage',
    productName: 'Standard HDD Managed Disks',
    productId: region === 'eastus' ? 'DZH318Z0BP0L' : 'bg:product:standard-hdd-managed-disks',
    skuName: 'Snapshots LRS',
    skuId: `bg:sku:${region}:snapshots-lrs`,
    meterName: 'LRS Snapshots',
    meterId: `bg:meter:${region}:lrs-snapshots`,
    unitOfMeasure: '1 GB/Month',
    effectiveStartDate: date,
    retailPrice: 0.05,
  });
}

export const AZURE_LIST_PRICES: AzureRetailPriceItem[] = [
  ...AZURE_LINUX.flatMap(([arm, series, eastus, westeurope]) => [
    ...azureVm('eastus', arm, series, 'linux', eastus),
    ...azureVm('westeurope', arm, series, 'linux', westeurope),
  ]),
  ...AZURE_WINDOWS_EASTUS.flatMap(([arm, series, price, productId]) =>
    azureVm('eastus', arm, series, 'windows', price, productId),
  ),
  ...azureVm('westeurope', 'Standard_D2s_v5', 'Dsv5', 'windows', 0.207),
  ...STANDARD_SSD_EASTUS.map(([tier, price]) => standardSsd('eastus', tier, price, '2026-09-09T00:00:00Z')),
  ...STANDARD_SSD_EASTUS.filter(([tier]) => ['E4', 'E15', 'E20'].includes(tier)).map(([tier, price]) =>
    standardSsd('westeurope', tier, price, '2026-07-12T00:00:00Z'),
  ),
  lrsSnapshots('eastus', UNDATED),
  lrsSnapshots('westeurope', '2024-07-01T00:00:00Z'),
  // internet egress over the Microsoft network: one ladder for the zone's regions; the first
  // 100 GB a month are free (the subscription's, so a quote prices from the first paid tier)
  ...(['eastus', 'westeurope'] as const).flatMap((region) =>
    (
      [
        [0, 0],
        [100, 0.087],
        [10335, 0.083],
        [51295, 0.07],
        [153695, 0.05],
      ] as const
    ).map(([from, price]) =>
      azureItem(region, {
        serviceName: 'Bandwidth',
        serviceId: 'bg:service:bandwidth',
        serviceFamily: 'Networking',
        productName: 'Rtn Preference: MGN',
        productId: 'DZH318Z0BNVX',
        skuName: 'Standard',
        skuId: 'DZH318Z0BNVX/003F',
        meterName: 'Standard Data Transfer Out',
        meterId: '9995d93a-7d35-4d3f-9c69-7a7fea447ef4',
        unitOfMeasure: '1 GB',
        tierMinimumUnits: from,
        isPrimaryMeterRegion: false,
        effectiveStartDate: '2026-09-24T00:00:00Z',
        retailPrice: price,
      }),
    ),
  ),
];
