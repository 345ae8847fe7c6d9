import { describe, expect, it } from 'vitest';
import {
  allows, customRoleGrant, grantWithin, overallZoneScope, patternCovers, patternsMeet, systemGrant, zoneScopeFor, zonesWithin, type Grant,
} from '../../../domain/identity/permissions.js';

const admin = systemGrant('admin');
const platformAdmin = systemGrant('platform-admin');
const auditor = systemGrant('auditor');
const readOnly = systemGrant('read-only');

describe('permission patterns', () => {
  it('covers and meets segment by segment', () => {
    expect(patternCovers('*:*', 'vm:create')).toBe(true);
    expect(patternCovers('vm:*', 'vm:create')).toBe(true);
    expect(patternCovers('*:read', 'vm:read')).toBe(true);
    expect(patternCovers('*:read', 'vm:create')).toBe(false);
    expect(patternCovers('vm:create', 'vm:*')).toBe(false);
    expect(patternsMeet('*:read', 'vm:*')).toBe(true);
    expect(patternsMeet('zone:create', 'vm:*')).toBe(false);
  });
});

describe('system roles', () => {
  it('admin may do anything, including permissions that contexts add later', () => {
    for (const permission of ['vm:create', 'zone:delete', 'ticket:approve', 'certificate:upload', 'some-future-thing:frobnicate']) {
      expect(allows([admin], permission)).toBe(true);
    }
  });

  it('platform admin may do what admin may, except the seed\'s exceptions', () => {
    for (const permission of ['vm:create', 'host:delete', 'zone:update', 'user:create', 'audit:read']) expect(allows([platformAdmin], permission), permission).toBe(true);
    for (const permission of ['zone:create', 'zone:delete', 'ticket:approve', 'ticket:create', 'certificate:upload']) expect(allows([platformAdmin], permission), permission).toBe(false);
  });

  it('auditor reads the audit log and nothing else but its own session, tasks and profile', () => {
    expect(allows([auditor], 'audit:read')).toBe(true);
    for (const permission of ['vm:read', 'user:list', 'setting:read', 'vm:create']) expect(allows([auditor], permission), permission).toBe(false);
    for (const permission of ['session:logout', 'task:read', 'task:list', 'profile:update']) expect(allows([auditor], permission), permission).toBe(true);
  });

  it('read-only reads and lists everything, changes nothing', () => {
    for (const permission of ['vm:read', 'vm:list', 'user:list', 'audit:read', 'setting:read']) expect(allows([readOnly], permission), permission).toBe(true);
    for (const permission of ['vm:create', 'user:create', 'setting:update', 'role:create', 'access-key:create']) expect(allows([readOnly], permission), permission).toBe(false);
  });

  it('without roles only the self-service permissions remain', () => {
    expect(allows([], 'session:logout')).toBe(true);
    expect(allows([], 'audit:read')).toBe(false);
  });
});

describe('nobody grants what they do not hold', () => {
  it('admin may grant every role; a role holder may grant that role', () => {
    for (const grant of [admin, platformAdmin, auditor, readOnly]) expect(grantWithin(grant, [admin])).toBe(true);
    expect(grantWithin(platformAdmin, [platformAdmin])).toBe(true);
    expect(grantWithin(readOnly, [readOnly])).toBe(true);
  });

  it('platform admin cannot grant admin, nor read-only (which reads tickets, and platform admins may not)', () => {
    expect(grantWithin(admin, [platformAdmin])).toBe(false);
    expect(grantWithin(readOnly, [platformAdmin])).toBe(false);
    expect(grantWithin(auditor, [platformAdmin])).toBe(true);
  });

  it('read-only and auditor cannot grant anything beyond themselves', () => {
    expect(grantWithin(platformAdmin, [readOnly])).toBe(false);
    expect(grantWithin(admin, [auditor, readOnly])).toBe(false);
    expect(grantWithin(auditor, [readOnly])).toBe(true);
  });

  it('custom roles: within the grantor, inheriting the root\'s exceptions', () => {
    const vmOperator = customRoleGrant('r1', 'platform-admin', ['vm:*']);
    const zoneMaker = customRoleGrant('r2', 'admin', ['zone:create']);
    const everythingUnderPlatformAdmin = customRoleGrant('r3', 'platform-admin', ['*:*']);
    expect(grantWithin(vmOperator, [platformAdmin])).toBe(true);
    expect(grantWithin(zoneMaker, [platformAdmin])).toBe(false);
    // The custom role inherits the exceptions, so everything-but-them is within platform-admin …
    expect(allows([everythingUnderPlatformAdmin], 'zone:create')).toBe(false);
    expect(grantWithin(everythingUnderPlatformAdmin, [platformAdmin])).toBe(true);
    // … and a holder of it may grant platform-admin, which allows exactly the same.
    expect(grantWithin(platformAdmin, [everythingUnderPlatformAdmin])).toBe(true);
    expect(grantWithin(vmOperator, [customRoleGrant('r4', 'platform-admin', ['vm:read'])])).toBe(false);
  });
});

describe('zone scope', () => {
  const holder = (...grants: Grant[]) => grants;
  it('platform-admin permissions apply in the assigned zones; unscoped roles everywhere', () => {
    expect(zoneScopeFor(holder(platformAdmin), ['z1'], 'vm:create')).toEqual(['z1']);
    expect(zoneScopeFor(holder(platformAdmin, readOnly), ['z1'], 'vm:read')).toBe('all');
    expect(zoneScopeFor(holder(platformAdmin, readOnly), ['z1'], 'vm:create')).toEqual(['z1']);
    expect(zoneScopeFor(holder(admin, platformAdmin), ['z1'], 'vm:create')).toBe('all');
    expect(zoneScopeFor(holder(readOnly), ['z1'], 'vm:create')).toEqual([]);
    expect(overallZoneScope(holder(platformAdmin), ['z1', 'z2'])).toEqual(['z1', 'z2']);
    expect(overallZoneScope(holder(admin, platformAdmin), ['z1'])).toBe('all');
    expect(overallZoneScope(holder(readOnly), [])).toBe('all');
  });

  it('compares zone sets', () => {
    expect(zonesWithin(['z1'], ['z1', 'z2'])).toBe(true);
    expect(zonesWithin(['z3'], ['z1'])).toBe(false);
    expect(zonesWithin('all', ['z1'])).toBe(false);
    expect(zonesWithin('all', 'all')).toBe(true);
  });
});
