/** Scopes and ownership: what a caller may see and do, and the log line of an admin's cross-tenant read. */
import { describe, expect, it } from 'vitest';
import { ScopeMissingError, TenantNotAllowedError } from '../../../shared/domain/errors';
import {
  hasScope,
  mayAccess,
  ownerOf,
  requireScope,
  tenantToRead,
  type Caller,
} from '../../../shared/domain/tenants';

const A: Caller = { tenant: 'team-a', keyId: 'key-a', scopes: ['read', 'offload'] };
const ADMIN: Caller = { tenant: 'ops', keyId: 'key-ops', scopes: ['admin'] };

function logger() {
  const lines: Array<[string, Record<string, unknown>]> = [];
  return {
    lines,
    info: (message: string, attrs: Record<string, unknown>) => void lines.push([message, attrs]),
  };
}

describe('scopes', () => {
  it('grants the scopes a key has, and every scope to admin', () => {
    expect(hasScope(A, 'read')).toBe(true);
    expect(hasScope(A, 'cancel')).toBe(false);
    expect(
      ['read', 'offload', 'return', 'cancel', 'schedule'].every((s) => hasScope(ADMIN, s as never)),
    ).toBe(true);
  });

  it('refuses a missing scope with a 403 that names the scope and the key', () => {
    // Act
    let error: unknown;
    try {
      requireScope(A, 'cancel', 'cancel a job');
    } catch (err) {
      error = err;
    }
    // Assess
    expect(error).toBeInstanceOf(ScopeMissingError);
    expect((error as ScopeMissingError).status).toBe(403);
    expect((error as ScopeMissingError).type).toBe('scope-missing');
    expect((error as ScopeMissingError).detail).toContain("the scope 'cancel'; key key-a does not have it");
  });
});

describe('ownership', () => {
  it('lets a tenant at its own things only, and says nothing in the log', () => {
    // Prepare
    const log = logger();
    // Act
    const own = mayAccess(A, 'team-a', 'write', log, { jobId: 'j' });
    const other = mayAccess(A, 'team-b', 'read', log, { jobId: 'j' });
    // Assess
    expect([own, other]).toEqual([true, false]);
    expect(log.lines).toEqual([]);
  });

  it("lets admin read another tenant's things, never change them, and logs each read", () => {
    // Prepare
    const log = logger();
    // Act
    const read = mayAccess(ADMIN, 'team-a', 'read', log, { jobId: 'job-1' });
    const write = mayAccess(ADMIN, 'team-a', 'write', log, { jobId: 'job-1' });
    // Assess
    expect([read, write]).toEqual([true, false]);
    expect(log.lines).toEqual([
      ['cross-tenant read', { tenant: 'ops', keyId: 'key-ops', owner: 'team-a', jobId: 'job-1' }],
    ]);
  });

  it('takes what was made before tenants as the default tenant’s', () => {
    expect(ownerOf({})).toBe('default');
    expect(ownerOf({ tenant: 'team-a' })).toBe('team-a');
  });

  it('reads the caller’s own tenant unless an admin names another', () => {
    expect(tenantToRead(A, undefined)).toBe('team-a');
    expect(tenantToRead(A, 'team-a')).toBe('team-a');
    expect(tenantToRead(ADMIN, 'team-a')).toBe('team-a');
    expect(() => tenantToRead(A, 'team-b')).toThrow(TenantNotAllowedError);
  });
});
