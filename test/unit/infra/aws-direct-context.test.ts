import { describe, expect, it } from 'vitest';
import { AWS_DIRECT_CONTEXT } from '../../../infra/gateway-stack';
import { stateMachineDefinition } from '../../../infra/synth-template';
import { functionEnv, synthesizedWith as stackWith } from '../../helpers/synth';

describe('AWS direct settings from CDK context', () => {
  it('set the PutBlocks range size on the functions and the Map state’s MaxConcurrency', () => {
    // Act
    const template = stackWith({
      [AWS_DIRECT_CONTEXT.uploadChunkBytes]: 256 * 1024 * 1024,
      [AWS_DIRECT_CONTEXT.uploadConcurrency]: 3,
    });

    // Assess
    const env = functionEnv(template, 'FnStepsAwsPrepareSnapshot');
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
