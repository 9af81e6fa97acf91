/**
 * Shared access signatures of managed disks and snapshots (grantAccess / revokeAccess): the SAS URL
 * Azure hands out (…/<container>/abcd?sv=…&sr=b&si=…&sig=…), its record, and its HMAC signature,
 * which the blob front checks.
 */
import { createHmac, randomUUID } from 'node:crypto';

import {
  COMPUTE,
  prop,
  requireParam,
  str,
  type ArmContext,
  type ArmRequest,
  type ArmResponse,
} from './context';
import { armError } from './errors';
import { key, type AccessRec, type DiskRec, type SnapshotRec } from './model';
import { accepted, type ResourceKind } from './resources';

/** The blob name Azure gives every managed-disk SAS (…/<container>/abcd). */
export const SAS_BLOB_NAME = 'abcd';
export const SAS_ACCOUNT = 'md-impexp-sim';

export function sasSignature(secret: string, accessId: string, container: string): string {
  return createHmac('sha256', secret).update(`${accessId}\n${container}`).digest('base64');
}

function grantSas(ctx: ArmContext, resourceIdValue: string, mode: 'Read' | 'Write', seconds: number): string {
  const id = randomUUID();
  const container = ctx.newId().replace(/-/g, '').slice(0, 12);
  const access: AccessRec = {
    id,
    resourceId: key(resourceIdValue),
    mode,
    container,
    expiresAt: ctx.now() + seconds * 1000,
    revoked: false,
  };
  ctx.state.accesses[id] = access;
  const q = new URLSearchParams({
    sv: '2018-03-28',
    sr: 'b',
    si: id,
    sig: sasSignature(ctx.state.secret, id, container),
  });
  return `${ctx.blobUrl}/${SAS_ACCOUNT}/${container}/${SAS_BLOB_NAME}?${q.toString()}`;
}

export function revokeAll(ctx: ArmContext, id: string): void {
  for (const a of Object.values(ctx.state.accesses)) if (a.resourceId === key(id)) a.revoked = true;
}

export function activeSasUrl(ctx: ArmContext, id: string): string | undefined {
  const a = Object.values(ctx.state.accesses).find((x) => x.resourceId === key(id) && !x.revoked);
  return a ? `${ctx.blobUrl}/${SAS_ACCOUNT}/${a.container}/${SAS_BLOB_NAME}` : undefined;
}

export function parseGrant(body: unknown): { access: 'Read' | 'Write'; seconds: number } {
  const access = str(body, 'access');
  requireParam(access, 'grantAccessData.access');
  if (access !== 'Read' && access !== 'Write')
    throw armError(
      'InvalidParameter',
      `The value '${String(access)}' of parameter 'grantAccessData.access' is not valid. Allowed values are 'Read' and 'Write'.`,
    );
  const seconds = prop(body, 'durationInSeconds');
  requireParam(seconds, 'grantAccessData.durationInSeconds');
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds <= 0)
    throw armError(
      'InvalidParameter',
      `The value '${String(seconds)}' of parameter 'grantAccessData.durationInSeconds' is not valid. It must be a positive number of seconds.`,
    );
  return { access, seconds };
}

/** Grants a SAS on a disk or snapshot; the operation's result (Location URL) carries the accessSAS. */
export function answerGrant(
  ctx: ArmContext,
  req: ArmRequest,
  kind: ResourceKind<DiskRec> | ResourceKind<SnapshotRec>,
  r: DiskRec | SnapshotRec,
  access: 'Read' | 'Write',
  seconds: number,
): ArmResponse {
  const accessSAS = grantSas(ctx, r.id, access, seconds);
  return accepted(ctx, req, `${kind.operations}_GrantAccess`, COMPUTE, r.location, { output: { accessSAS } });
}
