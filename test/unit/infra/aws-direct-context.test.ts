import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { AWS_DIRECT_CONTEXT, GatewayStack } from '../../../infra/gateway-stack';
import {
  BUNDLING_STACKS_CONTEXT,
  FEATURE_FLAGS,
  stateMachineDefinition,
} from '../../../infra/synth-template';
import { resourcesOfType } from '../../helpers/synth';

function stackWith(context: Record<string, unknown>): Template {
  const app = new App({
    context: { [BUNDLING_STACKS_CONTEXT]: [], ...context },
    postCliContext: { ...FEATURE_FLAGS },
    builtinCloudFormationValidation: false,
    treeMetadata: false,
    stackTraces: false,
  });
  return Template.fromStack(new GatewayStack(app, 'BurstgateStack'));
}

describe('AWS direct settings from CDK context', () => {
  it('set the PutBlocks range size on the functions and the Map state’s MaxConcurrency', () => {
    // Act
    const template = stackWith({
      [AWS_DIRECT_CONTEXT.uploadChunkBytes]: 256 * 1024 * 1024,
      [AWS_DIRECT_CONTEXT.uploadConcurrency]: 3,
    });

    // Assess
    const fn = resourcesOfType(template, 'AWS::Lambda::Function').FnStepsAwsPrepareSnapshot;
    const env = (fn?.Properties.Environment as { Variables: Record<string, string> }).Variables;
    expect(env.EBS_UPLOAD_CHUNK_BYTES).toBe(String(256 * 1024 * 1024));
    const def = stateMachineDefinition(template.toJSON(), 'OffloadStateMachine') as {
      States: Record<string, { MaxConcurrency?: number }>;
    };
    expect(def.States.AwsPutBlocks?.MaxConcurrency).toBe(3);
  });

  it('refuse a range size that is not whole EBS blocks', () => {
    // Act / Assess
    expect(() => stackWith({ [AWS_DIRECT_CONTEXT.uploadChunkBytes]: 1000 })).toThrow(/multiple of 512 KiB/);
  });
});
