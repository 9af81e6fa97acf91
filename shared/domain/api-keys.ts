/**
 * Who is calling: the API key in `Authorization: Bearer <key>`, looked up by its SHA-256 (the
 * jobs table keeps only hashes), and what it may do. The HTTP API's Lambda authorizer translates
 * the answer (tenant, key id, scopes) into its context; the embedded deployment runs that same
 * authorizer in front of every route. Keys are made here too, for the CLI and the embedded
 * deployment: checked, then stored hashed.
 */
import { newJobId } from './ids';
import { ValidationError } from './errors';
import {
  DEFAULT_TENANT,
  LEGACY_SCOPES,
  SCOPES,
  TENANT_NAME,
  isScope,
  type Caller,
  type Scope,
} from './tenants';
import { newApiKey, type ApiKeyRecord, type ApiKeyStore } from '../store/api-key-store';

/** Keys are `bg_` + 43 base64url characters; anything outside these bounds is not worth a lookup. */
const BEARER = /^Bearer\s+(\S{16,512})$/i;

export type DenyReason = 'malformed-authorization' | 'unknown-key' | 'revoked-key' | 'expired-key';
export type Authorization =
  | { authorized: true; caller: Caller; keyLabel: string }
  | { authorized: false; reason: DenyReason; keyId?: string };

/** Checks the `Authorization` header's bearer key against the stored keys: known, not revoked, not expired. */
export async function authorizeBearer(
  store: Pick<ApiKeyStore, 'find'>,
  authorization: string | undefined,
  now: Date,
): Promise<Authorization> {
  const key = BEARER.exec((authorization ?? '').trim())?.[1];
  if (!key) return { authorized: false, reason: 'malformed-authorization' };
  const found = await store.find(key);
  if (!found) return { authorized: false, reason: 'unknown-key' };
  const caller = callerOf(found);
  if (found.revokedAt || found.disabled === true) {
    return { authorized: false, reason: 'revoked-key', keyId: caller.keyId };
  }
  if (found.expiresAt && Date.parse(found.expiresAt) <= now.getTime()) {
    return { authorized: false, reason: 'expired-key', keyId: caller.keyId };
  }
  return { authorized: true, caller, keyLabel: found.label };
}

/** The caller a stored key stands for; keys from before tenants are the default tenant's, without admin. */
export function callerOf(record: ApiKeyRecord): Caller {
  return {
    tenant: record.tenant ?? DEFAULT_TENANT,
    keyId: record.keyId ?? 'key-legacy',
    scopes: record.scopes ? record.scopes.filter(isScope) : LEGACY_SCOPES,
  };
}

export interface KeyRequest {
  tenant: string;
  scopes: readonly string[];
  label: string;
  /** When the key stops working (absent: never). */
  expiresAt?: Date;
}

/** Longest label kept (it is shown in lists and logs). */
const MAX_LABEL = 200;

/** A request for a key, checked: a ValidationError names each field that is wrong. */
export function checkKeyRequest(
  req: KeyRequest,
  now: Date,
): { tenant: string; scopes: Scope[]; label: string; expiresAt?: Date } {
  const problems: Array<{ path: string; message: string }> = [];
  if (!TENANT_NAME.test(req.tenant)) {
    problems.push({
      path: 'tenant',
      message: 'lower-case letters, digits and dashes, 1–63, starting with a letter or digit',
    });
  }
  const unknown = req.scopes.filter((s) => !isScope(s));
  if (req.scopes.length === 0)
    problems.push({ path: 'scopes', message: `at least one of ${SCOPES.join(', ')}` });
  if (unknown.length > 0) {
    problems.push({
      path: 'scopes',
      message: `unknown ${unknown.map((s) => `'${s}'`).join(', ')}; the scopes are ${SCOPES.join(', ')}`,
    });
  }
  const printable = [...req.label].every((c) => c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) !== 0x7f);
  if (req.label.length === 0 || req.label.length > MAX_LABEL || !printable) {
    problems.push({ path: 'label', message: `1–${MAX_LABEL} printable characters` });
  }
  if (req.expiresAt && !(req.expiresAt.getTime() > now.getTime())) {
    problems.push({ path: 'expires', message: 'must lie in the future' });
  }
  if (problems.length > 0) {
    throw new ValidationError(
      `the API key request is not valid: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
      problems,
    );
  }
  const scopes = [...new Set(req.scopes.filter(isScope))];
  return {
    tenant: req.tenant,
    scopes,
    label: req.label,
    ...(req.expiresAt ? { expiresAt: req.expiresAt } : {}),
  };
}

/** Makes a key for a checked request and stores it hashed; the key is returned once, with its record. */
export async function issueApiKey(
  store: Pick<ApiKeyStore, 'put'>,
  req: KeyRequest,
  now: Date,
): Promise<{ key: string; record: ApiKeyRecord & { keyId: string; tenant: string } }> {
  const checked = checkKeyRequest(req, now);
  const key = newApiKey();
  const record = {
    keyId: newJobId(now, 'key'),
    tenant: checked.tenant,
    scopes: checked.scopes,
    label: checked.label,
    createdAt: now.toISOString(),
    ...(checked.expiresAt ? { expiresAt: checked.expiresAt.toISOString() } : {}),
  };
  await store.put(key, record);
  return { key, record };
}
