/**
 * Who is calling: the API key in `Authorization: Bearer <key>`, looked up by its SHA-256 (the
 * jobs table keeps only hashes). The HTTP API's Lambda authorizer translates the answer; the
 * embedded deployment runs that same authorizer in front of every route.
 */
import type { JobStore } from '../store/job-store';

/** Keys are `bg_` + 43 base64url characters; anything outside these bounds is not worth a lookup. */
const BEARER = /^Bearer\s+(\S{16,512})$/i;

export type Authorization =
  | { authorized: true; keyLabel: string }
  | { authorized: false; reason: 'malformed-authorization' | 'unknown-key' };

/** Checks the `Authorization` header's bearer key against the stored (hashed, not disabled) keys. */
export async function authorizeBearer(
  store: Pick<JobStore, 'findApiKey'>,
  authorization: string | undefined,
): Promise<Authorization> {
  const key = BEARER.exec((authorization ?? '').trim())?.[1];
  if (!key) return { authorized: false, reason: 'malformed-authorization' };
  const found = await store.findApiKey(key);
  if (!found) return { authorized: false, reason: 'unknown-key' };
  return { authorized: true, keyLabel: found.label };
}
