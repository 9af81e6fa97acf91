import { Aws, CfnCondition, Duration, Fn, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { fixLogicalId } from './nag';
import { RETURNS_PREFIX, STAGING_PREFIX } from './names';

/**
 * Canonical user ids of the VM Import/Export service, per Region. An instance export writes the OVA
 * into our bucket as this canonical user, so the bucket policy must let it read the bucket ACL and
 * put objects (VM Import/Export User Guide, "Export an instance" > Prerequisites). Every Region not
 * listed uses {@link VMIE_CANONICAL_ID_DEFAULT}.
 */
export const VMIE_CANONICAL_IDS: Readonly<Record<string, string>> = {
  'af-south-1': '3f7744aeebaf91dd60ab135eb1cf908700c8d2bc9133e61261e6c582be6e33ee', // Africa (Cape Town)
  'ap-east-1': '97ee7ab57cc9b5034f31e107741a968e595c0d7a19ec23330eae8d045a46edfb', // Asia Pacific (Hong Kong)
  'ap-south-2': '77ab5ec9eac9ade710b7defed37fe0640f93c5eb76ea65a64da49930965f18ca', // Asia Pacific (Hyderabad)
  'ap-southeast-3': 'de34aaa6b2875fa3d5086459cb4e03147cf1a9f7d03d82f02bedb991ff3d1df5', // Asia Pacific (Jakarta)
  'ap-southeast-5': 'ed006f67543afcfe0779e356e52d5ed53fa45f95bcd7d277147dfc027aaca0e7', // Asia Pacific (Malaysia)
  'ap-southeast-4': '8b8ea36ab97c280aa8558c57a380353ac7712f01f82c21598afbb17e188b9ad5', // Asia Pacific (Melbourne)
  'ap-southeast-6': '2dc8fa4ca1c59da5c6a4c5b0e397eea130ec62e49f18cff179034665fd20e8a2', // Asia Pacific (New Zealand)
  'ap-northeast-3': '40f22ffd22d6db3b71544ed6cd00c8952d8b0a63a87d58d5b074ec60397db8c9', // Asia Pacific (Osaka)
  'ap-east-2': 'a9fa0eb7c8483f9558cd14b24d16e9c4d1555261a320b586a3a06908ff0047ce', // Asia Pacific (Taipei)
  'ap-southeast-7': 'd011fe83abcc227a7ac0f914ce411d3630c4ef735e92e88ce0aa796dcfecfbdd', // Asia Pacific (Thailand)
  'ca-west-1': '78e12f8d798f89502177975c4ccdac686c583765cea2bf06e9b34224e2953c83', // Canada West (Calgary)
  'eu-south-1': '04636d9a349e458b0c1cbf1421858b9788b4ec28b066148d4907bb15c52b5b9c', // Europe (Milan)
  'eu-south-2': '6e81c4c52a37a7f59e103625162ed97bcd0e646593adb107d21310d093151518', // Europe (Spain)
  'eu-central-2': '5d9fcea77b2fb3df05fc15c893f212ae1d02adb4b24c13e18586db728a48da67', // Europe (Zurich)
  'il-central-1': '328a78de7561501444823ebeb59152eca7cb58fee2fe2e4223c2cdd9f93ae931', // Israel (Tel Aviv)
  'mx-central-1': 'edaff67fe25d544b855bd0ba9a74a99a2584ab89ceda0a9661bdbeca530d0fca', // Mexico (Central)
  'me-south-1': 'aa763f2cf70006650562c62a09433f04353db3cba6ba6aeb3550fdc8065d3d9f', // Middle East (Bahrain)
  'me-central-1': '7d3018832562b7b6c126f5832211fae90bd3eee3ed3afde192d990690267e475', // Middle East (UAE)
  'us-gov-west-1': 'af913ca13efe7a94b88392711f6cfc8aa07c9d1454d4f190a624b126733a5602', // AWS GovCloud (US)
  'us-gov-east-1': 'af913ca13efe7a94b88392711f6cfc8aa07c9d1454d4f190a624b126733a5602', // AWS GovCloud (US)
};
export const VMIE_CANONICAL_ID_DEFAULT = 'c4d8eabf8db69dbe46bfe0e517100c554f01200b104d59cd408e777ba442a322';

/**
 * What the gateway stores.
 *
 * - The staging bucket holds uploaded images under `staging/` and returned (exported) images under
 *   `returns/`. SSE-S3, not KMS: VM Import/Export cannot export to an SSE-KMS bucket.
 * - The jobs table holds jobs (`JOB#<id>`), idempotency records (`IDEM#<hash>`), API keys
 *   (`APIKEY#<sha256 hex>`), schedules and image cache entries, told apart by their partition key.
 *   API keys are stored hashed: only the SHA-256 of a key is ever written, so a table read never
 *   reveals a usable key. GSI `byState` (`gsi1pk`/`gsi1sk`) lists jobs by state for the gateway's
 *   sweeps; GSI `byOwner` (`gsi2pk`/`gsi2sk`) lists a tenant's jobs and schedules, and the keys.
 */
export class Storage extends Construct {
  readonly stagingBucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;
  readonly jobsTable: dynamodb.Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogsBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(90) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // The access-log destination itself has no access logs (cdk-nag S1 exempts log destinations).
    fixLogicalId(this.accessLogsBucket, 'AccessLogsBucket');

    this.stagingBucket = new s3.Bucket(this, 'StagingBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: false,
      // VM Import/Export writes exported images with the bucket-owner-full-control ACL; its
      // documented prerequisite is "Bucket owner preferred" object ownership.
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'staging-bucket/',
      lifecycleRules: [
        { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        { id: 'expire-staging', prefix: STAGING_PREFIX, expiration: Duration.days(7) },
        { id: 'expire-returns', prefix: RETURNS_PREFIX, expiration: Duration.days(7) },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    fixLogicalId(this.stagingBucket, 'StagingBucket');

    // Let the VM Import/Export service account of this Region write instance exports under returns/.
    this.stagingBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'VmExportGrantReadAclAndWrite',
        principals: [new iam.CanonicalUserPrincipal(this.vmieCanonicalId())],
        actions: ['s3:GetBucketAcl', 's3:PutObject'],
        resources: [this.stagingBucket.bucketArn, this.stagingBucket.arnForObjects(`${RETURNS_PREFIX}*`)],
      }),
    );

    this.jobsTable = new dynamodb.Table(this, 'JobsTable', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.jobsTable.addGlobalSecondaryIndex({
      indexName: 'byState',
      partitionKey: { name: 'gsi1pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'gsi1sk', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    // A tenant's jobs and schedules, and the API keys (shared/store/owner-index.ts).
    this.jobsTable.addGlobalSecondaryIndex({
      indexName: 'byOwner',
      partitionKey: { name: 'gsi2pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'gsi2sk', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    fixLogicalId(this.jobsTable, 'JobsTable');
  }

  /**
   * The VM Import/Export canonical id for the deployment Region, chosen at deploy time (the stack is
   * environment-agnostic) with one condition per Region that has its own id.
   */
  private vmieCanonicalId(): string {
    let value: string = VMIE_CANONICAL_ID_DEFAULT;
    for (const [region, canonicalId] of Object.entries(VMIE_CANONICAL_IDS).reverse()) {
      const condition = new CfnCondition(this, `VmieRegion-${region}`, {
        expression: Fn.conditionEquals(Aws.REGION, region),
      });
      value = Token.asString(Fn.conditionIf(condition.logicalId, canonicalId, value));
    }
    return value;
  }
}
