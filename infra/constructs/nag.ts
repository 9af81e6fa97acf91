import { CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag v3 acknowledgements go through CDK's own `Validations.of(scope).acknowledge`. An
 * acknowledgement applies to the construct and everything below it. Findings of rules that report
 * several findings per resource (IAM5) are acknowledged one by one as `Rule[Finding]`, which is the
 * v3 equivalent of v2's `appliesTo`.
 */
export function acknowledge(scope: IConstruct, ruleId: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: ruleId, reason });
}

/** Acknowledge one AwsSolutions-IAM5 finding, e.g. `Resource::*` or `Action::ec2:Describe*`. */
export function acknowledgeWildcard(scope: IConstruct, finding: string, reason: string): void {
  acknowledge(scope, `AwsSolutions-IAM5[${finding}]`, reason);
}

/**
 * How cdk-nag prints a `Fn::GetAtt` in an IAM5 finding: `<LogicalId.Attribute>`. Resources whose
 * ARNs appear in findings have fixed logical ids (see `fixLogicalId`), so findings are stable.
 */
export function getAttFinding(resource: IConstruct, attribute = 'Arn'): string {
  return `<${logicalIdOf(resource)}.${attribute}>`;
}

/** The logical id of a construct's CloudFormation resource (the construct itself or its default child). */
export function logicalIdOf(construct: IConstruct): string {
  const element = construct instanceof CfnElement ? construct : construct.node.defaultChild;
  if (!(element instanceof CfnElement)) {
    throw new Error(`${construct.node.path} has no CloudFormation resource to name`);
  }
  return Stack.of(construct).resolve(element.logicalId) as string;
}

/**
 * Give a construct's CloudFormation resource a fixed logical id. The synthesized template is a
 * contract with the embedded deployment and with the acknowledgements above, so the main resources
 * get readable ids that do not change when the construct tree is refactored.
 */
export function fixLogicalId(construct: IConstruct, logicalId: string): void {
  const element = construct instanceof CfnElement ? construct : construct.node.defaultChild;
  if (!(element instanceof CfnElement)) {
    throw new Error(`${construct.node.path} has no CloudFormation resource to name`);
  }
  element.overrideLogicalId(logicalId);
}
