import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { VMIE_CANONICAL_ID_DEFAULT, VMIE_CANONICAL_IDS } from '../../../infra/constructs/storage';
import { resourcesOfType, synthesized } from '../../helpers/synth';

describe('staging bucket', () => {
  it('is encrypted with SSE-S3, blocks all public access, and logs access to the log bucket', () => {
    // Prepare
    const { template } = synthesized();

    // Act
    const bucket = template.toJSON().Resources.StagingBucket;

    // Assess
    expect(bucket.Type).toBe('AWS::S3::Bucket');
    expect(bucket.Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.Properties.VersioningConfiguration).toBeUndefined();
    expect(bucket.Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: 'AccessLogsBucket' },
      LogFilePrefix: 'staging-bucket/',
    });
    expect(bucket.Properties.OwnershipControls).toEqual({
      Rules: [{ ObjectOwnership: 'BucketOwnerPreferred' }],
    });
    expect(bucket.DeletionPolicy).toBe('Retain');
  });

  it('aborts incomplete multipart uploads after 1 day and expires staging/ and returns/ after 7 days', () => {
    // Prepare
    const { template } = synthesized();

    // Act
    const rules = template.toJSON().Resources.StagingBucket.Properties.LifecycleConfiguration.Rules as Array<
      Record<string, unknown>
    >;

    // Assess
    expect(rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          Status: 'Enabled',
        }),
        expect.objectContaining({ Prefix: 'staging/', ExpirationInDays: 7, Status: 'Enabled' }),
        expect.objectContaining({ Prefix: 'returns/', ExpirationInDays: 7, Status: 'Enabled' }),
      ]),
    );
    const abort = rules.find((r) => r.AbortIncompleteMultipartUpload);
    expect(abort?.Prefix).toBeUndefined(); // applies to the whole bucket
  });

  it('denies any request without TLS (and below TLS 1.2)', () => {
    // Prepare
    const { template } = synthesized();

    // Act / Assess
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: 'StagingBucket' },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
          }),
        ]),
      },
    });
  });

  it('lets the VM Import/Export canonical user of the Region write exports under returns/ only', () => {
    // Prepare
    const { template } = synthesized();
    const policy = Object.values(resourcesOfType(template, 'AWS::S3::BucketPolicy')).find(
      (p) => (p.Properties.Bucket as { Ref: string }).Ref === 'StagingBucket',
    );

    // Act
    const statement = (
      policy?.Properties.PolicyDocument as { Statement: Array<Record<string, unknown>> }
    ).Statement.find((s) => s.Sid === 'VmExportGrantReadAclAndWrite');

    // Assess
    expect(statement).toMatchObject({ Effect: 'Allow', Action: ['s3:GetBucketAcl', 's3:PutObject'] });
    expect(JSON.stringify(statement?.Resource)).toContain('/returns/*');
    // The canonical id is chosen per Region at deploy time: a chain of Fn::If ending in the default id.
    const principal = JSON.stringify(statement?.Principal);
    expect(principal).toContain('Fn::If');
    expect(principal).toContain(VMIE_CANONICAL_ID_DEFAULT);
    for (const id of Object.values(VMIE_CANONICAL_IDS)) expect(principal).toContain(id);
  });

  it('lists well-formed canonical ids (64 hex digits) for the Regions AWS documents', () => {
    // Prepare
    const ids = { ...VMIE_CANONICAL_IDS, default: VMIE_CANONICAL_ID_DEFAULT };

    // Act
    const malformed = Object.entries(ids).filter(([, id]) => !/^[0-9a-f]{64}$/.test(id));

    // Assess
    expect(malformed).toEqual([]);
    expect(Object.keys(VMIE_CANONICAL_IDS)).toHaveLength(20);
  });
});

describe('access log bucket', () => {
  it('is private, encrypted, TLS-only and accepts S3 server access logs by bucket policy', () => {
    // Prepare
    const { template } = synthesized();

    // Act
    const bucket = template.toJSON().Resources.AccessLogsBucket;

    // Assess
    expect(
      bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault,
    ).toEqual({ SSEAlgorithm: 'AES256' });
    expect(bucket.Properties.PublicAccessBlockConfiguration.BlockPublicPolicy).toBe(true);
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: 'AccessLogsBucket' },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'logging.s3.amazonaws.com' },
            Action: 's3:PutObject',
          }),
        ]),
      },
    });
  });
});

describe('jobs table', () => {
  it('has pk/sk string keys, on-demand billing, point-in-time recovery and is retained', () => {
    // Prepare
    const { template } = synthesized();

    // Act
    const table = template.toJSON().Resources.JobsTable;

    // Assess
    expect(table.Type).toBe('AWS::DynamoDB::Table');
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
    expect(table.Properties.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(table.Properties.AttributeDefinitions).toEqual(
      expect.arrayContaining([
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'gsi1pk', AttributeType: 'S' },
        { AttributeName: 'gsi1sk', AttributeType: 'S' },
      ]),
    );
  });

  it('has the byState (gsi1pk/gsi1sk) and byOwner (gsi2pk/gsi2sk) GSIs projecting all attributes', () => {
    // Prepare
    const { template } = synthesized();

    // Act
    const indexes = template.toJSON().Resources.JobsTable.Properties.GlobalSecondaryIndexes;

    // Assess
    expect(indexes).toEqual([
      {
        IndexName: 'byState',
        KeySchema: [
          { AttributeName: 'gsi1pk', KeyType: 'HASH' },
          { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
      {
        IndexName: 'byOwner',
        KeySchema: [
          { AttributeName: 'gsi2pk', KeyType: 'HASH' },
          { AttributeName: 'gsi2sk', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ]);
  });
});

describe('event bus', () => {
  it('is the custom bus named burstgate', () => {
    // Prepare
    const { template } = synthesized();

    // Act / Assess
    template.resourceCountIs('AWS::Events::EventBus', 1);
    expect(template.toJSON().Resources.EventBus.Properties.Name).toBe('burstgate');
  });
});
