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

/** Meter and SKU ids the sources showed, by region, size and OS. */
const AZURE_IDS: Readonly<Record<string, { meterId: string; productId: string; skuId: string }>> = {
  'westeurope Standard_D2s_v5 linux': {
    meterId: '0561adcb-1c48-542e-9e0c-10dea22fc392',
    productId: 'DZH318Z08M9W',
    skuId: 'DZH318Z08M9W/0092',
  },
  'westeurope Standard_D2s_v5 windows': {
    meterId: '8aec24e5-8c37-581b-af93-3d8d785f272d',
    productId: 'DZH318Z08M9T',
    skuId: 'DZH318Z08M9T/005G',
  },
};

function azureVm(
  region: AzureRegion,
  arm: string,
  series: string,
  os: 'linux' | 'windows',
  price: number,
): AzureRetailPriceItem[] {
  const meterName = arm.replace(/^Standard_/, '').replace(/_/g, ' ');
  const known = AZURE_IDS[`${region} ${arm} ${os}`];
  const ids = known ?? {
    meterId: `bg:meter:${region}:${arm}:${os}`,
    productId: `bg:product:${series}${os === 'windows' ? ':windows' : ''}`,
    skuId: `bg:sku:${region}:${arm}:${os}`,
  };
  const base = {
    serviceName: 'Virtual Machines',
    serviceId: 'DZH313Z7MMC8',
    serviceFamily: 'Compute',
    armSkuName: arm,
    productName: `Virtual Machines ${series} Series${os === 'windows' ? ' Windows' : ''}`,
  };
  return [
    azureItem(region, {
      ...base,
      ...ids,
      meterName,
      skuName: meterName,
      retailPrice: price,
      // the captured item's own date; the generated table's otherwise
      ...(known ? { effectiveStartDate: '2021-11-01T00:00:00Z' } : {}),
    }),
  ];
}

/** Standard SSD tiers (eastus), USD per disk-month. */
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

export const AZURE_LIST_PRICES: AzureRetailPriceItem[] = [
  ...AZURE_LINUX.flatMap(([arm, series, eastus, westeurope]) => [
    ...azureVm('eastus', arm, series, 'linux', eastus),
    ...azureVm('westeurope', arm, series, 'linux', westeurope),
  ]),
  ...azureVm('eastus', 'Standard_D2s_v5', 'Dsv5', 'windows', 0.188),
  ...azureVm('westeurope', 'Standard_D2s_v5', 'Dsv5', 'windows', 0.207),
  ...STANDARD_SSD_EASTUS.map(([tier, price]) =>
    azureItem('eastus', {
      serviceName: 'Storage',
      serviceId: 'bg:service:storage',
      serviceFamily: 'Storage',
      productName: 'Standard SSD Managed Disks',
      productId: 'bg:product:standard-ssd-managed-disks',
      skuName: `${tier} LRS`,
      skuId: `bg:sku:eastus:${tier}-lrs`,
      meterName: `${tier} LRS Disk`,
      meterId: `bg:meter:eastus:${tier}-lrs-disk`,
      unitOfMeasure: '1/Month',
      effectiveStartDate: '2026-09-09T00:00:00Z',
      retailPrice: price,
    }),
  ),
  azureItem('eastus', {
    serviceName: 'Storage',
    serviceId: 'bg:service:storage',
    serviceFamily: 'Storage',
    productName: 'Standard HDD Managed Disks',
    productId: 'bg:product:standard-hdd-managed-disks',
    skuName: 'Snapshots LRS',
    skuId: 'bg:sku:eastus:snapshots-lrs',
    meterName: 'LRS Snapshots',
    meterId: 'bg:meter:eastus:lrs-snapshots',
    unitOfMeasure: '1 GB/Month',
    effectiveStartDate: UNDATED,
    retailPrice: 0.05,
  }),
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
