import { describe, expect, it } from 'vitest';
import { asAccountId } from '../../src/core/account/ids.ts';
import { actionRefusal, ADMIN_SCOPES, type ActionTarget, type AdminRole, can, cliPrincipal, permissionsFor, ROLE_PERMISSIONS, rolesFor, sessionPrincipal, tokenPrincipal } from '../../src/core/admin/principal.ts';

const MAPPING = { security_admin: ['Latchkey Security Admins'], helpdesk: ['CN=Helpdesk,OU=Groups,DC=corp,DC=test'], auditor: ['auditors'] };
const session = (roles: Parameters<typeof permissionsFor>[0], accountId = 'builtin:me') =>
  sessionPrincipal({ sessionId: 's1', accountId: asAccountId(accountId), username: 'me', roles: new Set(roles) });

describe('admin roles and permissions', () => {
  it('gives security admins every permission, helpdesk its five, and auditors exactly the read permissions', () => {
    expect([...permissionsFor(['security_admin'])].sort()).toEqual([...ADMIN_SCOPES].sort());
    expect([...permissionsFor(['helpdesk'])].sort()).toEqual(['accounts:read', 'accounts:write', 'alerts:read', 'outbox:read', 'tap:issue']);
    const auditor = permissionsFor(['auditor']);
    expect([...auditor].every((permission) => permission.endsWith(':read'))).toBe(true);
    expect(ADMIN_SCOPES.filter((permission) => permission.endsWith(':read')).every((permission) => auditor.has(permission))).toBe(true);
  });

  it('lets helpdesk unlock but never change policy, read the audit log, resolve alerts or operate break-glass', () => {
    const helpdesk = session(['helpdesk']);
    expect(can(helpdesk, 'accounts:write')).toBe(true);
    for (const permission of ['policy:write', 'policy:read', 'audit:read', 'alerts:write', 'breakglass:operate', 'reports:read'] as const) expect(can(helpdesk, permission)).toBe(false);
    expect(ROLE_PERMISSIONS.helpdesk).not.toContain('policy:write');
  });

  it('unions the permissions of several roles', () => {
    const both = session(['helpdesk', 'auditor']);
    expect(can(both, 'accounts:write')).toBe(true);
    expect(can(both, 'audit:read')).toBe(true);
    expect(can(both, 'policy:write')).toBe(false);
  });

  it('maps directory groups to roles case-insensitively, and a distinguished name by its common name', () => {
    expect([...rolesFor(['latchkey security admins'], MAPPING)]).toEqual(['security_admin']);
    expect([...rolesFor(['cn=helpdesk,ou=groups,dc=corp,dc=test'], MAPPING)]).toEqual(['helpdesk']);
    expect([...rolesFor(['CN=Auditors,OU=Elsewhere,DC=corp,DC=test', 'staff'], MAPPING)]).toEqual(['auditor']);
    expect(rolesFor(['staff', 'admins'], MAPPING).size).toBe(0);
  });

  it('holds no role when the mapping is empty, whatever the groups', () => {
    expect(rolesFor(['Domain Admins', 'auditors'], {}).size).toBe(0);
    expect(rolesFor(['auditors'], { auditor: [] }).size).toBe(0);
  });

  it('gives a token its scopes and no account, and the CLI everything', () => {
    const token = tokenPrincipal({ tokenId: 't1', scopes: ['alerts:read'] });
    expect(token.accountId).toBeNull();
    expect(can(token, 'alerts:read')).toBe(true);
    expect(can(token, 'alerts:write')).toBe(false);
    expect(ADMIN_SCOPES.every((permission) => can(cliPrincipal('ops'), permission))).toBe(true);
  });

  it('refuses actions on one’s own account, and privileged or admin targets to anyone but a security admin or the CLI', () => {
    const standard: ActionTarget = { accountId: asAccountId('builtin:alice'), tier: 'standard', roles: new Set<AdminRole>() };
    const privileged: ActionTarget = { accountId: asAccountId('builtin:root'), tier: 'privileged', roles: new Set<AdminRole>() };
    const otherHelpdesk: ActionTarget = { accountId: asAccountId('builtin:hd2'), tier: 'standard', roles: new Set<AdminRole>(['helpdesk']) };
    const helpdesk = session(['helpdesk'], 'builtin:hd1');
    expect(actionRefusal(helpdesk, standard)).toBeNull();
    expect(actionRefusal(helpdesk, privileged)).toBe('target_privileged');
    expect(actionRefusal(helpdesk, otherHelpdesk)).toBe('target_privileged');
    expect(actionRefusal(helpdesk, { ...standard, accountId: asAccountId('builtin:hd1') })).toBe('own_account');
    expect(actionRefusal(tokenPrincipal({ tokenId: 't', scopes: ['accounts:write'] }), privileged)).toBe('target_privileged');
    const securityAdmin = session(['security_admin'], 'builtin:sa');
    expect(actionRefusal(securityAdmin, privileged)).toBeNull();
    expect(actionRefusal(securityAdmin, { ...privileged, accountId: asAccountId('builtin:sa') })).toBe('own_account');
    expect(actionRefusal(cliPrincipal('ops'), privileged)).toBeNull();
  });
});
