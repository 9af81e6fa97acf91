/**
 * What POST /quotes may do: read price lists and instance catalogs, nothing that creates, changes
 * or removes; and POST /offloads reads the price lists for its estimate. GetProducts and DescribeInstanceTypes have no resource-level permissions (cdk-nag
 * IAM5 acknowledged on this function only); the Azure VM sizes need the service principal, so
 * the function reads its one secret.
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import type { GatewayFunction } from './gateway-function';
import { acknowledgeWildcard } from './nag';

const REASON_CATALOGS =
  'The Price List Query API (pricing:GetProducts) and ec2:DescribeInstanceTypes do not support resource-level permissions; both only read public catalog data.';

/** POST /offloads estimates what it accepts (budgets.ts): the price lists, nothing more. */
export function grantPriceListRead(fn: GatewayFunction): void {
  fn.role.addToPolicy(
    new iam.PolicyStatement({ sid: 'ReadPriceLists', actions: ['pricing:GetProducts'], resources: ['*'] }),
  );
  acknowledgeWildcard(fn, 'Resource::*', REASON_CATALOGS);
}

export function grantQuotePermissions(fn: GatewayFunction, azureCredentialsSecretArn: string): void {
  fn.role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'ReadPriceListsAndInstanceTypes',
      actions: ['pricing:GetProducts', 'ec2:DescribeInstanceTypes'],
      resources: ['*'],
    }),
  );
  fn.role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'ReadAzureServicePrincipal',
      actions: ['secretsmanager:GetSecretValue'],
      resources: [azureCredentialsSecretArn],
    }),
  );
  acknowledgeWildcard(fn, 'Resource::*', REASON_CATALOGS);
}
