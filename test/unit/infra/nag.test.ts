/**
 * cdk-nag (v3: a CDK policy validation plugin) with the AWS Solutions rules: the stack has no
 * unacknowledged finding, every acknowledgement answers a real finding, and each says why.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validations, type Acknowledgment } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createGatewayApp } from '../../../infra/synth-template';

const FAST = { bundling: false, validation: false, treeMetadata: false, stackTraces: false } as const;

function describeViolations(
  violations: Array<{ ruleName: string; violatingResources: Array<{ constructPath?: string }> }>,
) {
  return violations.map(
    (v) => `${v.ruleName} @ ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
  );
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('cdk-nag AwsSolutions', () => {
  it('finds no unacknowledged error or warning', () => {
    // Prepare
    const { app } = createGatewayApp(FAST);
    app.synth();

    // Act
    const report = new AwsSolutionsChecks(app).validateScope(app);

    // Assess
    expect(describeViolations(report.violations)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('passes as a registered validation plugin, as `cdk synth` runs it', () => {
    // Prepare
    const { app } = createGatewayApp(FAST);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

    // Act
    const assembly = app.synth(); // throws on an error-level violation

    // Assess
    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as {
      pluginReports: Array<{
        pluginName?: string;
        violations?: unknown[];
        summary?: { pluginName?: string };
      }>;
    };
    const violations = report.pluginReports.flatMap((r) => r.violations ?? []);
    expect(violations).toEqual([]);
  });

  it('fails the synth when a finding is not acknowledged (the plugin really runs)', () => {
    // Prepare
    const { app, stack } = createGatewayApp(FAST);
    new s3.Bucket(stack, 'UnloggedBucket', { enforceSSL: true });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

    // Act
    const synth = () => app.synth();

    // Assess
    expect(synth).toThrow(/AwsSolutions-S1/);
  });

  it('acknowledges only real findings, each with a specific reason', () => {
    // Prepare: record acknowledgements instead of applying them, then run the rules.
    const acks: Array<{ path: string; id: string; reason: string }> = [];
    vi.spyOn(Validations.prototype, 'acknowledge').mockImplementation(function (
      this: Validations,
      ...rules: Acknowledgment[]
    ) {
      const scope = (this as unknown as { scope: IConstruct }).scope;
      for (const rule of rules) acks.push({ path: scope.node.path, id: rule.id, reason: rule.reason });
    });
    const { app } = createGatewayApp(FAST);
    app.synth();

    // Act
    const findings = new AwsSolutionsChecks(app)
      .validateScope(app)
      .violations.flatMap((v) =>
        v.violatingResources.map((r) => ({ id: v.ruleName, path: r.constructPath ?? '' })),
      );

    // Assess
    expect(acks.length).toBeGreaterThan(0);
    const unused = acks.filter(
      (a) => !findings.some((f) => f.id === a.id && (f.path === a.path || f.path.startsWith(`${a.path}/`))),
    );
    expect(unused.map((a) => `${a.id} @ ${a.path}`)).toEqual([]);
    const uncovered = findings.filter(
      (f) => !acks.some((a) => f.id === a.id && (f.path === a.path || f.path.startsWith(`${a.path}/`))),
    );
    expect(uncovered.map((f) => `${f.id} @ ${f.path}`)).toEqual([]);
    for (const a of acks) {
      expect(a.reason.length, `${a.id} @ ${a.path}`).toBeGreaterThan(40);
    }
  });
});
