import { describe, expect, it } from 'vitest';
import { resourcesOfType, statementsOfRole, synthesized } from '../../helpers/synth';

describe('vmimport service role', () => {
  it('is named vmimport and trusts vmie.amazonaws.com only with the external id vmimport', () => {
    // Prepare
    const { template } = synthesized();

    // Act
    const role = template.toJSON().Resources.VmImportRole;

    // Assess
    expect(role.Type).toBe('AWS::IAM::Role');
    expect(role.Properties.RoleName).toBe('vmimport');
    expect(role.Properties.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'vmie.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'sts:Externalid': 'vmimport' } },
        },
      ],
    });
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('grants the documented import, export and image registration permissions', () => {
    // Prepare
    const { template } = synthesized();

    // Act
    const statements = statementsOfRole(template, 'VmImportRole');
    const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));

    // Assess
    expect(bySid.ImportBucket).toMatchObject({
      Action: ['s3:GetBucketLocation', 's3:ListBucket'],
      Resource: { 'Fn::GetAtt': ['StagingBucket', 'Arn'] },
    });
    expect(bySid.ImportObjects).toMatchObject({ Action: 's3:GetObject' });
    expect(JSON.stringify(bySid.ImportObjects?.Resource)).toContain('/staging/*');
    expect(bySid.ExportBucket).toMatchObject({
      Action: ['s3:GetBucketLocation', 's3:ListBucket', 's3:GetBucketAcl'],
      Resource: { 'Fn::GetAtt': ['StagingBucket', 'Arn'] },
    });
    expect(bySid.ExportObjects).toMatchObject({ Action: ['s3:GetObject', 's3:PutObject'] });
    expect(JSON.stringify(bySid.ExportObjects?.Resource)).toContain('/returns/*');
    expect(bySid.RegisterImportedImage).toEqual({
      Sid: 'RegisterImportedImage',
      Effect: 'Allow',
      Action: ['ec2:ModifySnapshotAttribute', 'ec2:CopySnapshot', 'ec2:RegisterImage', 'ec2:Describe*'],
      Resource: '*',
    });
    expect(statements).toHaveLength(5);
  });

  it('is only passable by the start-import function (the others pass only the Scheduler role)', () => {
    // Prepare
    const { template } = synthesized();
    const policies = resourcesOfType(template, 'AWS::IAM::Policy');

    // Act
    const passers = Object.values(policies)
      .filter((p) => JSON.stringify(p.Properties.PolicyDocument).includes('iam:PassRole'))
      .filter((p) => !JSON.stringify(p.Properties.PolicyDocument).includes('SchedulerRole'))
      .map((p) => (p.Properties.Roles as Array<{ Ref: string }>)[0]?.Ref);

    // Assess
    expect(passers).toEqual(['FnStepsStartImportRole']);
    const statement = statementsOfRole(template, 'FnStepsStartImportRole').find(
      (s) => s.Action === 'iam:PassRole',
    );
    expect(statement?.Resource).toEqual({ 'Fn::GetAtt': ['VmImportRole', 'Arn'] });
  });
});
