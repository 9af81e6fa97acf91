import { randomBytes } from 'node:crypto';

import { Ec2Error } from './protocol';

/** Resource id prefixes as AWS issues them today (17 hex digits after the prefix). */
export type IdPrefix =
  'i' | 'ami' | 'snap' | 'vol' | 'r' | 'import-ami' | 'export-i' | 'eni' | 'subnet' | 'vpc';

export function newId(prefix: IdPrefix): string {
  return `${prefix}-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

/** Old-style (8 hex) and new-style (17 hex) ids are both well formed. */
export function isWellFormed(prefix: IdPrefix, id: string): boolean {
  return new RegExp(`^${prefix}-([0-9a-f]{8}|[0-9a-f]{17})$`).test(id);
}

/** `InvalidInstanceID.Malformed`, `InvalidAMIID.Malformed`, … with AWS's wording. */
export function assertWellFormed(prefix: IdPrefix, id: string, code: string): void {
  if (!isWellFormed(prefix, id)) {
    throw new Ec2Error(code, `Invalid id: "${id}" (expecting "${prefix}-...")`);
  }
}
