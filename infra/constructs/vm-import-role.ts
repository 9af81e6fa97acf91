import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeWildcard, fixLogicalId, getAttFinding } from './nag';
import { RETURNS_PREFIX, STAGING_PREFIX, VMIMPORT_ROLE_NAME } from './names';

export interface VmImportRoleProps {
  /** Where images are imported from (`staging/`) and exported to (`returns/`). */
  readonly bucket: s3.IBucket;
}

/**
 * The VM Import/Export service role, as the VM Import/Export User Guide ("Required service role")
 * documents it: named `vmimport`, trusted by `vmie.amazonaws.com` with the external id `vmimport`,
 * allowed to read the import bucket, write the export bucket, and register the imported image.
 * Our import and export bucket is the same staging bucket, so object access is narrowed to the
 * prefix each direction uses. The bucket uses SSE-S3, so the optional KMS statement is not needed
 * (VM Import/Export cannot export to an SSE-KMS bucket anyway).
 *
 * The name is fixed because AWS looks the role up by name; only one such role can exist per
 * account, so an account that already has a `vmimport` role must remove or import it first.
 */
export class VmImportRole extends Construct {
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: VmImportRoleProps) {
    super(scope, id);
    const { bucket } = props;

    this.role = new iam.Role(this, 'Role', {
      roleName: VMIMPORT_ROLE_NAME,
      description: 'VM Import/Export service role (burstgate): imports staging/ uploads, exports to returns/',
      assumedBy: new iam.ServicePrincipal('vmie.amazonaws.com', {
        conditions: { StringEquals: { 'sts:Externalid': 'vmimport' } },
      }),
    });
    fixLogicalId(this.role, 'VmImportRole');

    const policy = new iam.Policy(this, 'Policy', {
      policyName: 'vmimport',
      statements: [
        new iam.PolicyStatement({
          sid: 'ImportBucket',
          actions: ['s3:GetBucketLocation', 's3:ListBucket'],
          resources: [bucket.bucketArn],
        }),
        new iam.PolicyStatement({
          sid: 'ImportObjects',
          actions: ['s3:GetObject'],
          resources: [bucket.arnForObjects(`${STAGING_PREFIX}*`)],
        }),
        new iam.PolicyStatement({
          sid: 'ExportBucket',
          actions: ['s3:GetBucketLocation', 's3:ListBucket', 's3:GetBucketAcl'],
          resources: [bucket.bucketArn],
        }),
        new iam.PolicyStatement({
          sid: 'ExportObjects',
          actions: ['s3:GetObject', 's3:PutObject'],
          resources: [bucket.arnForObjects(`${RETURNS_PREFIX}*`)],
        }),
        new iam.PolicyStatement({
          sid: 'RegisterImportedImage',
          actions: ['ec2:ModifySnapshotAttribute', 'ec2:CopySnapshot', 'ec2:RegisterImage', 'ec2:Describe*'],
          resources: ['*'],
        }),
      ],
    });
    policy.attachToRole(this.role);
    fixLogicalId(policy, 'VmImportRolePolicy');

    const bucketArn = getAttFinding(bucket);
    acknowledgeWildcard(
      this,
      `Resource::${bucketArn}/${STAGING_PREFIX}*`,
      'VM Import reads the uploaded image, whose key is only known per job, under staging/ of the staging bucket.',
    );
    acknowledgeWildcard(
      this,
      `Resource::${bucketArn}/${RETURNS_PREFIX}*`,
      'VM Export writes the exported image, whose key is chosen by the service per export task, under returns/ of the staging bucket.',
    );
    acknowledgeWildcard(
      this,
      'Resource::*',
      'The documented vmimport role policy: ec2:ModifySnapshotAttribute, CopySnapshot, RegisterImage and Describe* act on snapshots and images the service creates during the import, which do not exist (and have no ARN) when the role is defined.',
    );
    acknowledgeWildcard(
      this,
      'Action::ec2:Describe*',
      'The documented vmimport role policy grants ec2:Describe* (read-only); VM Import/Export calls several Describe APIs that AWS does not enumerate.',
    );
  }
}
