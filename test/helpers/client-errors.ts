/** Client tests' way to take the GatewayClientError a call must end with, and assert that it does. */
import { expect } from 'vitest';
import { GatewayClientError } from '../../shared/client/errors';

export async function caught(p: Promise<unknown>): Promise<GatewayClientError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayClientError);
    return err as GatewayClientError;
  }
  throw new Error('expected a GatewayClientError');
}
