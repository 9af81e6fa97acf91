/**
 * CDK entry (cdk.json: `npx tsx infra/app.ts`). Synthesizes the environment-agnostic
 * `BurstgateStack` and checks it with cdk-nag's AWS Solutions rules: an unacknowledged error fails
 * `cdk synth`/`cdk deploy`, warnings are printed.
 */
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { createGatewayApp } from './synth-template';

const { app } = createGatewayApp();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
