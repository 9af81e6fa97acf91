/**
 * Build the burstgate CDK app in process and read back the synthesized CloudFormation template,
 * without the CDK CLI. `infra/app.ts` (the CLI entry), the tests and the embedded deployment all go
 * through `createGatewayApp`, so they synthesize the same template.
 *
 * Conventions of the template (the embedded deployment relies on them):
 * - every `AWS::Lambda::Function` has `Metadata["burstgate:entry"]`: its entry module relative to
 *   the project root (e.g. `lambdas/steps/start-import.ts`); logical ids are `FnApi<Name>` /
 *   `FnSteps<Name>`;
 * - state machines are `OffloadStateMachine` / `ReturnStateMachine`, their `DefinitionString` is an
 *   `Fn::Join` whose Task `Resource`s are `Fn::GetAtt [<function logical id>, Arn]` (AwaitUpload:
 *   `…:states:::lambda:invoke.waitForTaskToken` with `Parameters.FunctionName`);
 * - the jobs table is `JobsTable`, the bucket `StagingBucket`, the HTTP API `HttpApi`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { STACK_NAME } from './constructs/names';
import { GatewayStack } from './gateway-stack';

/**
 * Feature flags the stack is written for. Set in code (after CLI context) rather than in cdk.json so
 * that `cdk synth` and `synthTemplate()` always produce the same template.
 */
export const FEATURE_FLAGS: Readonly<Record<string, unknown>> = {
  '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
  '@aws-cdk/aws-s3:createDefaultLoggingPolicy': true,
  '@aws-cdk/aws-s3:grantWriteWithoutAcl': true,
  '@aws-cdk/aws-s3:publicAccessBlockedByDefault': true,
  '@aws-cdk/aws-iam:minimizePolicies': false,
  '@aws-cdk/core:validateAgainstDefaultRules': true,
  '@aws-cdk/core:annotationsInValidationReport': true,
};

/** Context key that lists the stacks to bundle assets for; `[]` skips esbuild (fast synth). */
export const BUNDLING_STACKS_CONTEXT = 'aws:cdk:bundling-stacks';

export interface CreateGatewayAppOptions {
  /**
   * Bundle the Lambda code with esbuild. `undefined` leaves it to the CDK CLI (which sets the
   * bundling context) and otherwise bundles; `false` skips bundling (the entry files must exist).
   */
  readonly bundling?: boolean;
  /** Run the built-in CloudFormation validation at synth (default: true, as the CDK does). */
  readonly validation?: boolean;
  /** Cloud assembly directory (default: the CDK's choice, `cdk.out` under the CLI, else a temp dir). */
  readonly outdir?: string;
  /** Write tree.json (default true). */
  readonly treeMetadata?: boolean;
  /** Record construct creation stack traces (default true; off is faster). */
  readonly stackTraces?: boolean;
  /** CDK context, as `cdk -c key=value` gives it (e.g. `burstgate:instanceTypes`). */
  readonly context?: Record<string, unknown>;
  /** Where `lambdas/` and `package-lock.json` live (default: this project). */
  readonly projectRoot?: string;
}

export function createGatewayApp(opts: CreateGatewayAppOptions = {}): { app: App; stack: GatewayStack } {
  const app = new App({
    context: {
      ...opts.context,
      ...(opts.bundling === undefined ? {} : { [BUNDLING_STACKS_CONTEXT]: opts.bundling ? ['**'] : [] }),
    },
    postCliContext: { ...FEATURE_FLAGS },
    ...(opts.validation === undefined ? {} : { builtinCloudFormationValidation: opts.validation }),
    ...(opts.outdir === undefined ? {} : { outdir: opts.outdir }),
    ...(opts.treeMetadata === undefined ? {} : { treeMetadata: opts.treeMetadata }),
    ...(opts.stackTraces === undefined ? {} : { stackTraces: opts.stackTraces }),
  });
  const stack = new GatewayStack(app, STACK_NAME, opts.projectRoot ? { projectRoot: opts.projectRoot } : {});
  return { app, stack };
}

export type CfnTemplate = Record<string, unknown>;

/**
 * The synthesized CloudFormation template of the stack, as JSON. Bundling is skipped by default
 * (fast: no esbuild; the Lambda entry files must still exist). Synthesizes into a temporary
 * directory that is removed afterwards; the CLI's `cdk.out` is never touched.
 */
export function synthTemplate(opts: { bundling?: boolean; tmpRoot?: string } = {}): CfnTemplate {
  // tmpRoot: where the temporary directory goes (default the system's), so a caller can check it is gone
  const outdir = fs.mkdtempSync(path.join(opts.tmpRoot ?? os.tmpdir(), 'burstgate-synth-'));
  try {
    const { app, stack } = createGatewayApp({
      bundling: opts.bundling ?? false,
      validation: false,
      treeMetadata: false,
      stackTraces: false,
      outdir,
    });
    const assembly = app.synth();
    return assembly.getStackArtifact(stack.artifactId).template as CfnTemplate;
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

// ---- reading the template ----------------------------------------------------------------------

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}

export function resources(template: CfnTemplate): Record<string, CfnResource> {
  return (template.Resources ?? {}) as Record<string, CfnResource>;
}

/** Lambda functions by logical id → entry module (`Metadata["burstgate:entry"]`). */
export function functionEntries(template: CfnTemplate): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [logicalId, resource] of Object.entries(resources(template))) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const entry = resource.Metadata?.['burstgate:entry'];
    if (typeof entry === 'string') out[logicalId] = entry;
  }
  return out;
}

/** How to turn the intrinsics found in the template into strings. */
export interface IntrinsicResolver {
  /** `{ Ref: name }`: pseudo parameters (`AWS::Region`, …) and resources. */
  ref(name: string): string;
  /** `{ "Fn::GetAtt": [logicalId, attribute] }`. */
  getAtt(logicalId: string, attribute: string): string;
}

/**
 * A resolver with fixed placeholder values: partition `aws`, Region `us-east-1`, account
 * `000000000000`; `Fn::GetAtt [X, Arn]` of a Lambda function becomes
 * `arn:aws:lambda:us-east-1:000000000000:function:X` (the function's logical id as its name).
 */
export function placeholderResolver(
  template: CfnTemplate,
  env: { partition?: string; region?: string; account?: string } = {},
): IntrinsicResolver {
  const partition = env.partition ?? 'aws';
  const region = env.region ?? 'us-east-1';
  const account = env.account ?? '000000000000';
  const all = resources(template);
  const pseudo: Record<string, string> = {
    'AWS::Partition': partition,
    'AWS::Region': region,
    'AWS::AccountId': account,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': STACK_NAME,
  };
  return {
    ref: (name) => pseudo[name] ?? name,
    getAtt: (logicalId, attribute) => {
      const type = all[logicalId]?.Type;
      if (type === 'AWS::Lambda::Function' && attribute === 'Arn') {
        return `arn:${partition}:lambda:${region}:${account}:function:${logicalId}`;
      }
      return `arn:${partition}:placeholder:${region}:${account}:${logicalId}/${attribute}`;
    },
  };
}

/** Resolve `Ref`, `Fn::GetAtt` and `Fn::Join` in a template value. Other intrinsics are an error. */
export function resolveIntrinsics(value: unknown, resolver: IntrinsicResolver): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, resolver));
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 1) {
    const [key] = keys as [string];
    const arg = obj[key];
    if (key === 'Ref') return resolver.ref(String(arg));
    if (key === 'Fn::GetAtt') {
      const [logicalId, attribute] = (Array.isArray(arg) ? arg : String(arg).split('.')) as [string, string];
      return resolver.getAtt(logicalId, attribute);
    }
    if (key === 'Fn::Join') {
      const [delimiter, parts] = arg as [string, unknown[]];
      return parts.map((p) => String(resolveIntrinsics(p, resolver))).join(delimiter);
    }
    if (key.startsWith('Fn::')) throw new Error(`cannot resolve ${key} in the template`);
  }
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, resolveIntrinsics(v, resolver)]));
}

/** The ASL of a state machine (e.g. `OffloadStateMachine`) with its intrinsics resolved. */
export function stateMachineDefinition(
  template: CfnTemplate,
  logicalId: string,
  resolver: IntrinsicResolver = placeholderResolver(template),
): Record<string, unknown> {
  const resource = resources(template)[logicalId];
  if (resource?.Type !== 'AWS::StepFunctions::StateMachine') {
    throw new Error(`${logicalId} is not a state machine in the template`);
  }
  const definition = resolveIntrinsics(resource.Properties?.DefinitionString, resolver);
  if (typeof definition !== 'string') throw new Error(`${logicalId} has no DefinitionString`);
  return JSON.parse(definition) as Record<string, unknown>;
}
