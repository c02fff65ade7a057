import { describe, expect, it } from 'vitest';
import { isHoneytoken } from '../../src/core/honeytoken/honeytoken.ts';

/* Which identifiers and accounts are honeytokens: canonical names, work e-mail, groups by name or DN. */

const policy = { usernames: ['svc-backup-admin', 'Ghost.Finance@Corp.TEST'], groups: ['Decoy Accounts'] };
const account = (over: Partial<{ username: string; workEmail: string | null; groups: string[] }> = {}) => ({ username: 'someone', workEmail: 'someone@corp.test', groups: [], ...over });

describe('isHoneytoken', () => {
  it('matches a listed name in any case or Unicode form, with or without an account behind it', () => {
    expect(isHoneytoken(policy, 'svc-backup-admin', null)).toBe(true);
    expect(isHoneytoken(policy, 'ghost.finance@corp.test', null)).toBe(true);
    expect(isHoneytoken(policy, 'ＳＶＣ-backup-admin'.normalize('NFKC').toLowerCase(), null)).toBe(true);
    expect(isHoneytoken(policy, 'svc-backup-admin2', null)).toBe(false);
  });

  it('matches the account a different spelling reached: its username or work e-mail', () => {
    expect(isHoneytoken(policy, 'svc-backup-admin@corp.test', account({ username: 'svc-backup-admin' }))).toBe(true);
    expect(isHoneytoken(policy, 'gf', account({ username: 'gf', workEmail: 'ghost.finance@corp.test' }))).toBe(true);
    expect(isHoneytoken(policy, 'alice', account({ username: 'alice', workEmail: 'alice@corp.test' }))).toBe(false);
  });

  it('matches group members by name or distinguished name, case-insensitively', () => {
    expect(isHoneytoken(policy, 'x', account({ groups: ['decoy accounts'] }))).toBe(true);
    expect(isHoneytoken(policy, 'x', account({ groups: ['CN=Decoy Accounts,OU=Groups,DC=corp,DC=test'] }))).toBe(true);
    expect(isHoneytoken(policy, 'x', account({ groups: ['admins'] }))).toBe(false);
  });

  it('matches nothing when the policy lists nothing', () => {
    expect(isHoneytoken({ usernames: [], groups: [] }, 'svc-backup-admin', account({ username: 'svc-backup-admin' }))).toBe(false);
  });
});
