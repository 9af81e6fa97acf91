/**
 * One synthesized stack per test file (vitest runs each file in its own worker): bundling skipped,
 * built-in CloudFormation validation off, so a synth takes about a second.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { createGatewayApp } from '../../infra/synth-template';
import type { GatewayStack } from '../../infra/gateway-stack';

export const ROOT = join(import.meta.dirname, '..', '..');

let cached: { stack: GatewayStack; template: Template } | undefined;

/** The stack and its template, synthesized once per test file. */
export function synthesized(): { stack: GatewayStack; template: Template } {
  if (!cached) {
    const { stack } = createGatewayApp({
      bundling: false,
      validation: false,
      treeMetadata: false,
      stackTraces: false,
    });
    cached = { stack, template: Template.fromStack(stack) };
  }
  return cached;
}

/** A stack synthesized with this CDK context (not cached: each context is its own stack). */
export function synthesizedWith(context: Record<string, unknown>): Template {
  const { stack } = createGatewayApp({
    bundling: false,
    validation: false,
    treeMetadata: false,
    stackTraces: false,
    context,
  });
  return Template.fromStack(stack);
}

/** The environment variables of one function (`FnStepsLaunchInstance`) in a template. */
export function functionEnv(template: Template, logicalId: string): Record<string, string> {
  const fn = resourcesOfType(template, 'AWS::Lambda::Function')[logicalId];
  return (fn?.Properties.Environment as { Variables: Record<string, string> }).Variables;
}

export type CfnResource = {
  Type: string;
  Properties: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
};

/** Resources of one type, by logical id. */
export function resourcesOfType(template: Template, type: string): Record<string, CfnResource> {
  return template.findResources(type) as Record<string, CfnResource>;
}

export function fileExists(relative: string): boolean {
  return existsSync(join(ROOT, relative));
}

/** `{ Statement: [...] }` of every AWS::IAM::Policy attached to the given role logical id. */
export function statementsOfRole(template: Template, roleLogicalId: string): Array<Record<string, unknown>> {
  const policies = resourcesOfType(template, 'AWS::IAM::Policy');
  return Object.values(policies)
    .filter((p) => (p.Properties.Roles as Array<{ Ref?: string }>).some((r) => r.Ref === roleLogicalId))
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Array<Record<string, unknown>> }).Statement);
}

/** Every action a role may perform (flattened). */
export function actionsOfRole(template: Template, roleLogicalId: string): string[] {
  return statementsOfRole(template, roleLogicalId).flatMap((s) =>
    Array.isArray(s.Action) ? (s.Action as string[]) : [s.Action as string],
  );
}
