/**
 * The full synth, as `cdk synth`/`cdk deploy` run it: every function bundled by esbuild (locally,
 * no Docker), CDK's built-in CloudFormation validation on, and cdk-nag's AWS Solutions rules
 * registered as a validation plugin. Slow (about 21 esbuild bundles), so it is the only one.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { ESM_REQUIRE_BANNER } from '../../../infra/constructs/gateway-function';
import { createGatewayApp, functionEntries } from '../../../infra/synth-template';

const outdir = mkdtempSync(join(tmpdir(), 'burstgate-full-synth-'));

afterAll(() => {
  rmSync(outdir, { recursive: true, force: true });
});

describe('full synth', () => {
  it('bundles every function and passes CloudFormation validation and cdk-nag', { timeout: 600_000 }, () => {
    // Prepare
    const { app, stack } = createGatewayApp({ bundling: true, validation: true, outdir });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

    // Act
    const assembly = app.synth(); // throws on a validation error

    // Assess: no finding at all, not even a warning
    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as {
      pluginReports: Array<{ violations?: unknown[] }>;
    };
    expect(report.pluginReports.flatMap((r) => r.violations ?? [])).toEqual([]);

    // Assess: each function's code is an ESM bundle with the require banner and a source map
    const template = assembly.getStackArtifact(stack.artifactId).template as {
      Resources: Record<string, { Properties: { Code: { S3Key: unknown } } }>;
    };
    const entries = functionEntries(template);
    expect(Object.keys(entries)).toHaveLength(66);
    for (const logicalId of Object.keys(entries)) {
      const s3Key = template.Resources[logicalId]?.Properties.Code.S3Key;
      expect(typeof s3Key, logicalId).toBe('string');
      const assetDir = join(assembly.directory, `asset.${String(s3Key).replace(/\.zip$/, '')}`);
      const bundle = join(assetDir, 'index.mjs');
      expect(existsSync(bundle), `${logicalId}: ${bundle}`).toBe(true);
      expect(readFileSync(bundle, 'utf8').startsWith(ESM_REQUIRE_BANNER), logicalId).toBe(true);
      expect(existsSync(`${bundle}.map`), logicalId).toBe(true);
    }
  });
});
