import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { fixLogicalId } from './nag';
import { ENTRY_METADATA_KEY } from './names';

/** ESM bundles still meet CommonJS dependencies that call `require`; give them one. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

export interface GatewayFunctionProps {
  /** Absolute path of the project root (holds package-lock.json). */
  readonly projectRoot: string;
  /** Entry module relative to the project root, e.g. `lambdas/steps/start-import.ts`. */
  readonly entry: string;
  /** Fixed logical id of the AWS::Lambda::Function, e.g. `FnStepsStartImport`. */
  readonly logicalId: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly environment: Record<string, string>;
}

/**
 * One Lambda entry point: a Node.js 22 arm64 function bundled from `entry` as ESM with esbuild
 * (locally, no Docker), its own log group (one month), and its own role that starts with nothing
 * but permission to write to that log group. Callers grant the rest, per function.
 *
 * The CloudFormation resource carries `Metadata["burstgate:entry"] = entry` so the embedded
 * deployment can map the function's logical id (and its ARN in the state machine definitions) back
 * to the module to load.
 */
export class GatewayFunction extends Construct {
  readonly fn: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly entry: string;

  constructor(scope: Construct, id: string, props: GatewayFunctionProps) {
    super(scope, id);
    this.entry = props.entry;

    this.logGroup = new logs.LogGroup(this, 'LogGroup', { retention: logs.RetentionDays.ONE_MONTH });

    // An explicit role instead of the default one: no AWSLambdaBasicExecutionRole managed policy,
    // log writes limited to this function's own log group.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `burstgate ${props.entry}`,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    this.fn = new nodejs.NodejsFunction(this, 'Function', {
      entry: path.join(props.projectRoot, props.entry),
      handler: 'handler',
      projectRoot: props.projectRoot,
      depsLockFilePath: path.join(props.projectRoot, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      description: props.description,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      environment: props.environment,
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // Ship the pinned AWS SDK instead of the runtime's: same client behaviour as in tests.
        bundleAwsSDK: true,
        forceDockerBundling: false,
      },
    });
    const cfn = this.fn.node.defaultChild as lambda.CfnFunction;
    cfn.addMetadata(ENTRY_METADATA_KEY, props.entry);
    fixLogicalId(cfn, props.logicalId);
    fixLogicalId(this.role, `${props.logicalId}Role`);
  }
}
