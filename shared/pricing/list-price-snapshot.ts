/**
 * The list-price snapshot the project ships: a small set of real public list prices, in the
 * shapes the providers' price APIs return them (AWS Price List `aws_v1` products, Azure Retail
 * Prices items). The embedded deployment's simulators answer `GetProducts` and
 * `/api/retail/prices` from it, and `SnapshotPriceBook` reads it directly. It is a snapshot, not a
 * price source: a deployed gateway reads live prices (shared/clouds/aws/price-list.ts,
 * shared/clouds/azure/retail-prices.ts).
 *
 * Provenance (read through public copies of the providers' own data, 2026-12-08):
 * - AWS us-east-1 EC2 Linux on-demand rates: the Price List as generated into
 *   aws/karpenter-provider-aws (`zz_generated.pricing_aws.go`, 2026-07-20; identical on
 *   2023-09-18). SKUs where a captured GetProducts answer showed them (m5.large, m5.xlarge,
 *   m6i.large, t3.micro, t3.small, m5.xlarge/m6i.xlarge Windows).
 * - AWS Windows (licence included), us-east-1: captured GetProducts answers for m5.xlarge and
 *   m6i.xlarge, and for every type here a weekly table generated from the AWS offer file
 *   (flexera-public/policy_templates `aws_ec2_pricing.json`, 2026-08) with the product SKUs.
 * - AWS EBS gp3, snapshots, S3 Standard and its requests, internet egress, EBS direct APIs: the
 *   Price List products with their SKUs and rate codes (offer files of 2023–2026, unchanged).
 *   Lambda ($0.20 per million requests, $0.0000166667 per GB-second) and Step Functions ($0.025
 *   per 1000 state transitions): AWS's pricing pages.
 * - Azure eastus and westeurope VM Linux pay-as-you-go rates: the Retail Prices API as generated
 *   into Azure/karpenter-provider-azure (`zz_generated.pricing.go`, 2026-06-18; identical on
 *   2024-04-23). Windows in eastus: a weekly table generated from the Retail Prices API
 *   (flexera-public/policy_templates `azure_vm_pricing.json`, 2026-08) and a raw captured answer
 *   (D2s v3); westeurope Windows: D2s v5 only. Standard SSD tiers (eastus; E4, E15, E20 in
 *   westeurope), Standard HDD LRS snapshots and "Rtn Preference: MGN" egress: Retail Prices items
 *   quoted in public code and generated tables (2024–2026).
 *
 * Identifiers: a SKU, rate code, meter id or sku id that begins with `bg:` stands where the
 * sources gave the price but not the provider's identifier; the price is the provider's, the
 * identifier is ours (it names what it is). Attribute values the simulators match on (usage
 * types, groups) are the providers' where the sources showed them. Effective dates are the
 * providers' where a captured answer gave one; otherwise the day a source confirmed the figure,
 * or the snapshot's own day when the source is undated.
 */
import { AWS_LIST_PRICES } from './list-prices-aws';
import { AZURE_LIST_PRICES } from './list-prices-azure';
import type { ListPriceSnapshot } from './snapshot-book';

export const LIST_PRICE_SNAPSHOT: ListPriceSnapshot = {
  takenOn: '2026-12-08',
  provenance:
    'public list prices (AWS us-east-1; Azure eastus, westeurope) read from published copies of the AWS Price List and ' +
    'the Azure Retail Prices API, 2023–2026; see shared/pricing/list-price-snapshot.ts',
  aws: AWS_LIST_PRICES,
  azure: AZURE_LIST_PRICES,
};
