/**
 * The AWS part of the list-price snapshot (list-price-snapshot.ts says where each figure comes
 * from): us-east-1 products in the Price List's `aws_v1` shape.
 */
import type { AwsPriceListItem } from './aws-products';

const ON_DEMAND = 'JRTCKXETXF';
const HOURLY = '6YS6EN2CT7';

interface Dimension {
  usd: string;
  unit: string;
  description: string;
  /** The rate-code suffix (default the common on-demand one). */
  rate?: string;
  beginRange?: string;
  endRange?: string;
}

function awsProduct(
  serviceCode: string,
  sku: string,
  productFamily: string,
  attributes: Record<string, string>,
  effectiveDate: string,
  dims: Dimension[],
): AwsPriceListItem {
  const term = `${sku}.${ON_DEMAND}`;
  return {
    serviceCode,
    product: { sku, productFamily, attributes: { servicecode: serviceCode, ...attributes } },
    terms: {
      OnDemand: {
        [term]: {
          sku,
          offerTermCode: ON_DEMAND,
          effectiveDate,
          priceDimensions: Object.fromEntries(
            dims.map((d, i) => {
              const rateCode = `${term}.${d.rate ?? (dims.length > 1 ? `T${i}` : HOURLY)}`;
              return [
                rateCode,
                {
                  rateCode,
                  description: d.description,
                  unit: d.unit,
                  beginRange: d.beginRange ?? '0',
                  endRange: d.endRange ?? 'Inf',
                  pricePerUnit: { USD: d.usd },
                },
              ];
            }),
          ),
        },
      },
    },
  };
}

const USE1 = { regionCode: 'us-east-1', location: 'US East (N. Virginia)', locationType: 'AWS Region' };
const KARPENTER_AWS = '2026-07-20T00:00:00Z';
/** A row whose source states no date: the day the snapshot was taken. */
const UNDATED = '2026-12-08T00:00:00Z';

/** [type, Linux USD/h, SKU if known] from the sources above. */
const EC2_LINUX: ReadonlyArray<readonly [string, string, string?]> = [
  ['t3.micro', '0.0104', 'CRAJUW7BTXFMT2UJ'],
  ['t3.small', '0.0208', 'QA3NBPZEQKZ2K9AR'],
  ['t3.medium', '0.0416'],
  ['t3.large', '0.0832'],
  ['t3.xlarge', '0.1664'],
  ['t3.2xlarge', '0.3328'],
  ['t3a.medium', '0.0376'],
  ['c5.large', '0.085'],
  ['c5.xlarge', '0.17'],
  ['c5.2xlarge', '0.34'],
  ['c6i.large', '0.085'],
  ['m5.large', '0.096', '6C86BEPQVG73ZGGR'],
  ['m5.xlarge', '0.192', '5G4TA8Z4MUKE6MJB'],
  ['m5.2xlarge', '0.384'],
  ['m6i.large', '0.096', 'B8JJ44GS8MG4RPR4'],
  ['m6i.xlarge', '0.192'],
  ['m6i.2xlarge', '0.384'],
  ['m7i.large', '0.1008'],
  ['m7i.xlarge', '0.2016'],
  ['r5.large', '0.126'],
  ['r5.xlarge', '0.252'],
];

/** [type, Windows (licence included) USD/h, SKU if known]. */
const EC2_WINDOWS: ReadonlyArray<readonly [string, string, string]> = [
  ['t3.medium', '0.06', 'G9WBYAXUDWGW7XYV'],
  ['t3.large', '0.1108', 'Z9SB76RG7AYSDDDQ'],
  ['t3.xlarge', '0.24', 'XAGFXGW3ZXX9QD5E'],
  ['t3.2xlarge', '0.48', 'JESSB9HP8MGMDJ4Q'],
  ['c5.large', '0.177', '35QACGXEGWD9AZHY'],
  ['c5.xlarge', '0.354', 'KBNWDNPNYX37C8BM'],
  ['c5.2xlarge', '0.708', 'FUETJGKE44YRRDYN'],
  ['c6i.large', '0.177', 'V3G5CXZSJKNN5W3N'],
  ['m5.large', '0.188', 'V5K26FGAR6BS5W56'],
  ['m5.xlarge', '0.376', 'HXGQ45BFM9J2FJ3F'],
  ['m5.2xlarge', '0.752', 'K5YBPA2PX7XQXAS4'],
  ['m6i.large', '0.188', 'M9MCQWG5EKKS5PWR'],
  ['m6i.xlarge', '0.376', 'QV83RDMFWDU5WFFX'],
  ['m6i.2xlarge', '0.752', 'GZWYTYPS7J7N4Z82'],
  ['m7i.large', '0.1928', '2JAR7QURUYEEEEDU'],
  ['m7i.xlarge', '0.3856', 'VENVCH793AWB9M32'],
  ['r5.large', '0.218', 'GSFR5KSGZUT24Z75'],
  ['r5.xlarge', '0.436', '5CMJ2RREHKGZTY3C'],
];

/** Windows rates come from a weekly table generated from the AWS offer file (its last update). */
const OFFER_TABLE = '2026-08-17T00:00:00Z';

/** Effective dates captured GetProducts answers gave; the others: the day the source was generated. */
const EC2_EFFECTIVE: Readonly<Record<string, string>> = {
  CRAJUW7BTXFMT2UJ: '2026-03-01T00:00:00Z',
  QA3NBPZEQKZ2K9AR: '2026-03-01T00:00:00Z',
  '6C86BEPQVG73ZGGR': '2026-03-01T00:00:00Z',
  '5G4TA8Z4MUKE6MJB': '2026-09-01T00:00:00Z',
  HXGQ45BFM9J2FJ3F: '2026-09-01T00:00:00Z',
  B8JJ44GS8MG4RPR4: '2026-09-01T00:00:00Z',
  QV83RDMFWDU5WFFX: '2026-09-01T00:00:00Z',
};

function ec2Instance(type: string, os: 'Linux' | 'Windows', usd: string, sku?: string): AwsPriceListItem {
  const id = sku ?? `bg:ec2:us-east-1:${type}:${os.toLowerCase()}`;
  return awsProduct(
    'AmazonEC2',
    id,
    'Compute Instance',
    {
      ...USE1,
      instanceType: type,
      operatingSystem: os,
      tenancy: 'Shared',
      preInstalledSw: 'NA',
      capacitystatus: 'Used',
      marketoption: 'OnDemand',
      licenseModel: 'No License required',
      operation: os === 'Windows' ? 'RunInstances:0002' : 'RunInstances',
      usagetype: `BoxUsage:${type}`,
    },
    (sku && EC2_EFFECTIVE[sku]) ?? (os === 'Windows' ? OFFER_TABLE : KARPENTER_AWS),
    [
      {
        usd: Number(usd).toFixed(10),
        unit: 'Hrs',
        description: `$${usd} per On Demand ${os} ${type} Instance Hour`,
      },
    ],
  );
}

export const AWS_LIST_PRICES: AwsPriceListItem[] = [
  ...EC2_LINUX.map(([t, usd, sku]) => ec2Instance(t, 'Linux', usd, sku)),
  ...EC2_WINDOWS.map(([t, usd, sku]) => ec2Instance(t, 'Windows', usd, sku)),
  // a Windows BYOL product beside the licence-included one: what the operation filter tells apart
  awsProduct(
    'AmazonEC2',
    '8AW2DYRV3M9N5RRZ',
    'Compute Instance',
    {
      ...USE1,
      instanceType: 'm5.xlarge',
      operatingSystem: 'Windows',
      tenancy: 'Shared',
      preInstalledSw: 'NA',
      capacitystatus: 'Used',
      licenseModel: 'Bring your own license',
      operation: 'RunInstances:0800',
      usagetype: 'BoxUsage:m5.xlarge',
    },
    '2026-09-01T00:00:00Z',
    [
      {
        usd: '0.1920000000',
        unit: 'Hrs',
        description: '$0.192 per On Demand Windows BYOL m5.xlarge Instance Hour',
      },
    ],
  ),
  awsProduct(
    'AmazonEC2',
    'JG3KUJMBRGHV3N8G',
    'Storage',
    {
      ...USE1,
      volumeApiName: 'gp3',
      volumeType: 'General Purpose',
      storageMedia: 'SSD-backed',
      usagetype: 'EBS:VolumeUsage.gp3',
    },
    '2026-08-31T00:00:00Z',
    [
      {
        usd: '0.0800000000',
        unit: 'GB-Mo',
        description:
          '$0.08 per GB-month of General Purpose (gp3) provisioned storage - US East (Northern Virginia)',
      },
    ],
  ),
  awsProduct(
    'AmazonEC2',
    '7U7TWP44UP36AT3R',
    'Storage Snapshot',
    {
      ...USE1,
      storageMedia: 'Amazon S3',
      usagetype: 'EBS:SnapshotUsage',
    },
    '2026-06-27T00:00:00Z',
    [
      {
        usd: '0.0500000000',
        unit: 'GB-Mo',
        description: '$0.05 per GB-Month of snapshot data stored - US East (Northern Virginia)',
      },
    ],
  ),
  awsProduct(
    'AmazonEC2',
    'TUB3X35AQ4QARUZC',
    'EBS direct API Requests',
    {
      ...USE1,
      usagetype: 'EBS:directAPI.snapshot.Put',
    },
    UNDATED,
    [{ usd: '0.0000060000', unit: 'SnapshotAPIUnits', description: 'Put Requests for EBS direct APIs' }],
  ),
  awsProduct(
    'AmazonEC2',
    'QRY3U66NSBVRCCHZ',
    'EBS direct API Requests',
    {
      ...USE1,
      usagetype: 'EBS:directAPI.snapshot.Get',
    },
    UNDATED,
    [{ usd: '0.0000030000', unit: 'SnapshotAPIUnits', description: 'Get Requests for EBS direct APIs' }],
  ),
  awsProduct(
    'AmazonEC2',
    '9PNNGFWQP7349GGM',
    'EBS direct API Requests',
    {
      ...USE1,
      usagetype: 'EBS:directAPI.snapshot.List',
    },
    UNDATED,
    [{ usd: '0.0000006000', unit: 'Requests', description: 'List Requests for EBS direct APIs' }],
  ),
  awsProduct(
    'AmazonS3',
    'WP9ANXZGBYYSGJEA',
    'Storage',
    {
      ...USE1,
      storageClass: 'General Purpose',
      volumeType: 'Standard',
      usagetype: 'TimedStorage-ByteHrs',
    },
    '2026-02-01T00:00:00Z',
    [
      {
        usd: '0.0230000000',
        unit: 'GB-Mo',
        rate: 'PGHJ3S3EYE',
        endRange: '51200',
        description: '$0.023 per GB - first 50 TB / month of storage used',
      },
      {
        usd: '0.0220000000',
        unit: 'GB-Mo',
        rate: 'D42MF2PVJS',
        beginRange: '51200',
        endRange: '512000',
        description: '$0.022 per GB - next 450 TB / month of storage used',
      },
      {
        usd: '0.0210000000',
        unit: 'GB-Mo',
        rate: 'PXJDJ3YRG3',
        beginRange: '512000',
        description: '$0.021 per GB - storage used / month over 500 TB',
      },
    ],
  ),
  awsProduct(
    'AmazonS3',
    'E9YHNFENF4XQBZR6',
    'API Request',
    {
      ...USE1,
      group: 'S3-API-Tier1',
      usagetype: 'Requests-Tier1',
    },
    '2026-08-31T00:00:00Z',
    [
      {
        usd: '0.0000050000',
        unit: 'Requests',
        description: '$0.005 per 1,000 PUT, COPY, POST, or LIST requests',
      },
    ],
  ),
  awsProduct(
    'AmazonS3',
    'ZWQ6Q48CRJXX4FXE',
    'API Request',
    {
      ...USE1,
      group: 'S3-API-Tier2',
      usagetype: 'Requests-Tier2',
    },
    '2026-08-31T00:00:00Z',
    [{ usd: '0.0000004000', unit: 'Requests', description: '$0.004 per 10,000 GET and all other requests' }],
  ),
  awsProduct(
    'AWSDataTransfer',
    'HQEH3ZWJVT46JHRG',
    'Data Transfer',
    {
      fromRegionCode: 'us-east-1',
      fromLocation: 'US East (N. Virginia)',
      fromLocationType: 'AWS Region',
      toLocation: 'External',
      transferType: 'AWS Outbound',
      usagetype: 'DataTransfer-Out-Bytes',
    },
    '2026-08-31T00:00:00Z',
    [
      // the 100 GB a month free is the account's, across services and regions: not in this product
      {
        usd: '0.0900000000',
        unit: 'GB',
        endRange: '10240',
        description: '$0.09 per GB - first 10 TB / month data transfer out beyond the global free tier',
      },
      {
        usd: '0.0850000000',
        unit: 'GB',
        beginRange: '10240',
        endRange: '51200',
        description: '$0.085 per GB - next 40 TB / month data transfer out',
      },
      {
        usd: '0.0700000000',
        unit: 'GB',
        beginRange: '51200',
        endRange: '153600',
        description: '$0.07 per GB - next 100 TB / month data transfer out',
      },
      {
        usd: '0.0500000000',
        unit: 'GB',
        beginRange: '153600',
        description: '$0.05 per GB - data transfer out / month over 150 TB',
      },
    ],
  ),
  awsProduct(
    'AWSLambda',
    'bg:lambda:us-east-1:requests',
    'Serverless',
    {
      ...USE1,
      group: 'AWS-Lambda-Requests',
      usagetype: 'Request',
    },
    '2026-08-31T00:00:00Z',
    [
      {
        usd: '0.0000002000',
        unit: 'Requests',
        description: 'AWS Lambda - Total Requests - US East (Northern Virginia)',
      },
    ],
  ),
  awsProduct(
    'AWSLambda',
    'bg:lambda:us-east-1:edge-requests',
    'Serverless',
    {
      ...USE1,
      group: 'AWS-Lambda-Requests',
      usagetype: 'Lambda-Edge-Request',
    },
    UNDATED,
    [{ usd: '0.0000006000', unit: 'Requests', description: 'Lambda@Edge requests' }],
  ),
  awsProduct(
    'AWSLambda',
    'bg:lambda:us-east-1:duration',
    'Serverless',
    {
      ...USE1,
      group: 'AWS-Lambda-Duration',
      usagetype: 'Lambda-GB-Second',
    },
    '2026-08-31T00:00:00Z',
    [
      {
        usd: '0.0000166667',
        unit: 'Lambda-GB-Second',
        endRange: '6000000000',
        description: 'AWS Lambda - Total Compute - first 6 billion GB-seconds / month',
      },
      {
        usd: '0.0000150000',
        unit: 'Lambda-GB-Second',
        beginRange: '6000000000',
        endRange: '15000000000',
        description: 'AWS Lambda - Total Compute - next 9 billion GB-seconds / month',
      },
      {
        usd: '0.0000133334',
        unit: 'Lambda-GB-Second',
        beginRange: '15000000000',
        description: 'AWS Lambda - Total Compute - over 15 billion GB-seconds / month',
      },
    ],
  ),
  awsProduct(
    'AWSLambda',
    'bg:lambda:us-east-1:duration-arm',
    'Serverless',
    {
      ...USE1,
      group: 'AWS-Lambda-Duration-ARM',
      usagetype: 'Lambda-GB-Second-ARM',
    },
    UNDATED,
    [
      {
        usd: '0.0000133334',
        unit: 'Lambda-GB-Second',
        endRange: '7500000000',
        description: 'AWS Lambda - Total Compute (Arm) - first 7.5 billion GB-seconds / month',
      },
    ],
  ),
  awsProduct(
    'AmazonStates',
    'bg:states:us-east-1:transitions',
    'Orchestration',
    {
      ...USE1,
      usagetype: 'StateTransition',
    },
    UNDATED,
    [{ usd: '0.0000250000', unit: 'StateTransition', description: '$0.025 per 1,000 state transitions' }],
  ),
];
