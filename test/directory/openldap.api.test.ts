import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAccountId } from '../../src/core/account/ids.ts';
import { allMessages, auditEvents, call, enrolEmailAndTotp, ENGINES, json, passTwoGates, startFlow, startHarness, type Harness, type Person } from '../support/harness.ts';
import { normalisedReply } from '../security/support.ts';
import { seedSlapdPerson, slapdDirectoryConfig, startSlapd, type Slapd } from '../support/slapd.ts';

/*
 * Reset and unlock through the HTTP API against a real slapd with ppolicy: the new password is
 * checked with ldapwhoami, locks are made by real failed binds, and the directory is stopped and
 * started under a running flow.
 */

let slapd: Slapd;
beforeAll(async () => {
  slapd = await startSlapd();
});
afterAll(async () => {
  await slapd?.close();
});

describe.each(ENGINES)('recovery through the API against OpenLDAP (%s)', (engine) => {
  let h: Harness;
  const uid = (name: string): string => `${name}${engine}`;
  /** A person in slapd, as the harness helpers expect one. */
  const seed = (name: string, extra: { groups?: string[]; displayName?: string; phone?: string } = {}): Promise<Person> => seedSlapdPerson(slapd, uid(name), extra);

  beforeAll(async () => {
    h = await startHarness({ engine, directory: slapdDirectoryConfig(slapd, { privilegedGroups: ['tier0'] }) });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('resets a password with two gates: ldapwhoami accepts the new password and refuses the old one', async () => {
    const alice = await seed('alice');
    const enrolled = await enrolEmailAndTotp(h, alice);
    const { token } = await startFlow(h, alice.username);
    const grant = await passTwoGates(h, token, enrolled);
    const newPassword = 'purple otter juggles seven lanterns';
    const response = await call(h, 'POST', '/api/recovery/flow/password', { password: newPassword, confirmPassword: newPassword }, { token: grant });
    expect(response.statusCode, response.body).toBe(200);
    expect(json<{ flow: { step: string } }>(response).flow.step).toBe('completed');
    expect(await slapd.checkPassword(alice.username, newPassword)).toBe(true);
    expect(await slapd.checkPassword(alice.username, alice.password)).toBe(false);
    const [reset] = await auditEvents(h, { types: ['password.reset'] });
    expect(reset).toMatchObject({ subject: alice.accountId, outcome: 'success', department: 'Finance' });
  });

  it('unlocks an account that real failed binds locked, and the unchanged password works again', async () => {
    const bob = await seed('bob');
    const enrolled = await enrolEmailAndTotp(h, bob);
    await slapd.lockByFailedBinds(bob.username);
    expect(await slapd.checkPassword(bob.username, bob.password)).toBe(false);
    expect((await slapd.readEntry(bob.username, ['pwdAccountLockedTime']))['pwdAccountLockedTime']).toHaveLength(1);

    const { token } = await startFlow(h, bob.username, 'unlock');
    const grant = await passTwoGates(h, token, enrolled);
    const response = await call(h, 'POST', '/api/recovery/flow/unlock', {}, { token: grant });
    expect(response.statusCode, response.body).toBe(200);
    expect(json<{ flow: { step: string } }>(response).flow.step).toBe('completed');
    expect(await slapd.readEntry(bob.username, ['pwdAccountLockedTime', 'pwdFailureTime'])).toEqual({});
    expect(await slapd.checkPassword(bob.username, bob.password)).toBe(true);
  });

  it('clears a directory lock as part of a reset, so the new password works at once', async () => {
    const hank = await seed('hank');
    const enrolled = await enrolEmailAndTotp(h, hank);
    await slapd.lockByFailedBinds(hank.username);
    const { token } = await startFlow(h, hank.username);
    const grant = await passTwoGates(h, token, enrolled);
    const newPassword = 'velvet moths orbit the porch lamp';
    const response = await call(h, 'POST', '/api/recovery/flow/password', { password: newPassword, confirmPassword: newPassword }, { token: grant });
    expect(response.statusCode, response.body).toBe(200);
    expect(await slapd.readEntry(hank.username, ['pwdAccountLockedTime'])).toEqual({});
    expect(await slapd.checkPassword(hank.username, newPassword)).toBe(true);
  });

  it('answers LDAP injection identifiers exactly like an unknown account, without touching the directory’s error path', async () => {
    await seed('carol');
    const sentBefore = (await allMessages(h)).length;
    const ghost = normalisedReply((await startFlow(h, `ghost${engine}`)).response);
    for (const identifier of ['*)(uid=*', 'alice)(|(uid=*', '*', '\\2a', `${uid('carol')})(uid=*`, '*)(|(objectClass=*']) {
      const started = await startFlow(h, identifier);
      expect(normalisedReply(started.response), identifier).toEqual(ghost);
      const [event] = await auditEvents(h, { types: ['recovery.started'], flowId: started.body.flow.flowId });
      expect(event?.data['decoy'], identifier).toBe(true);
      expect(event?.subject).toBeNull();
    }
    expect(await auditEvents(h, { types: ['directory.unavailable'] })).toEqual([]);
    expect((await allMessages(h)).length).toBe(sentBefore);
  });

  it('refuses a password the directory keeps in its history with a readable reason; the same grant then succeeds', async () => {
    const dave = await seed('dave');
    const enrolled = await enrolEmailAndTotp(h, dave);
    // An earlier change through the connector puts dave's first password into ppolicy's history.
    const interim = 'amber falcons circle the old lighthouse';
    expect(await h.latchkey.deps.directory.setPassword(asAccountId(dave.accountId), interim)).toEqual({ ok: true });

    const { token } = await startFlow(h, dave.username);
    const grant = await passTwoGates(h, token, enrolled);
    const reused = await call(h, 'POST', '/api/recovery/flow/password', { password: dave.password, confirmPassword: dave.password }, { token: grant });
    expect(reused.statusCode).toBe(422);
    const problem = json<{ code: string; detail: string; reasons: string[]; flow: { flowId: string; step: string } }>(reused);
    expect(problem.reasons).toEqual(['The directory does not allow reusing a recent password. Choose one you have not used before.']);
    expect(reused.body).not.toMatch(/Code: 0x|history of old passwords|uid=|dc=/);
    expect(problem.flow.step).toBe('awaiting_new_password');
    expect(await slapd.checkPassword(dave.username, interim)).toBe(true);

    const fresh = 'copper kites drift above winter fields';
    const retried = await call(h, 'POST', '/api/recovery/flow/password', { password: fresh, confirmPassword: fresh }, { token: grant });
    expect(retried.statusCode, retried.body).toBe(200);
    expect(await slapd.checkPassword(dave.username, fresh)).toBe(true);
    const rejected = await auditEvents(h, { types: ['password.rejected'], flowId: problem.flow.flowId });
    expect(rejected.map((event) => event.reason)).toEqual(['password.directory_refused']);
  });

  it('moves a person into the privileged tier at their next flow once the directory puts them in a privileged group', async () => {
    const erin = await seed('erin');
    await enrolEmailAndTotp(h, erin);
    const before = await startFlow(h, erin.username);
    expect(before.body.flow.methods.map((method) => method.id)).toContain('email_code');
    const [startedBefore] = await auditEvents(h, { types: ['recovery.started'], flowId: before.body.flow.flowId });
    expect(startedBefore?.tier).toBe('standard');

    await slapd.addToGroup(erin.username, 'admins');
    const after = await startFlow(h, erin.username);
    expect(after.body.flow.methods.map((method) => method.id)).not.toContain('email_code');
    const [startedAfter] = await auditEvents(h, { types: ['recovery.started'], flowId: after.body.flow.flowId });
    expect(startedAfter?.tier).toBe('privileged');
  });

  it('treats a group the connector is configured to call privileged as privileged, though the policy does not list it', async () => {
    const frank = await seed('frank', { groups: ['tier0'] });
    const account = await h.latchkey.deps.directory.getAccount(asAccountId(frank.accountId));
    expect(account?.directoryPrivileged).toBe(true);
    const started = await startFlow(h, frank.username);
    const [event] = await auditEvents(h, { types: ['recovery.started'], flowId: started.body.flow.flowId });
    expect(event?.tier).toBe('privileged');
  });

  it('finds directory accounts in the admin accounts listing, with lock state and tier, and shows the directory phone masked', async () => {
    const { token } = await h.latchkey.adminTokens.create({ name: 'console', scopes: ['accounts:read'] }, { kind: 'cli', id: 'test' });
    const marker = `Lister ${engine}`;
    const kim = await seed('kimlista', { groups: ['tier0'], displayName: `Kim ${marker}`, phone: '+44 7700 900456' });
    const lea = await seed('kimlistb', { displayName: `Lea ${marker}` });
    await slapd.lockByFailedBinds(lea.username);
    const listed = async (query: string, after?: string): Promise<Record<string, unknown>[]> => {
      const response = await call(h, 'GET', `/api/admin/accounts?query=${encodeURIComponent(query)}&limit=50${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`, undefined, { token });
      expect(response.statusCode, response.body).toBe(200);
      return json<{ accounts: Record<string, unknown>[] }>(response).accounts;
    };

    const accounts = await listed(marker.toLowerCase());
    expect(accounts.map((account) => account['username'])).toEqual([kim.username, lea.username]);
    expect(accounts[0]).toEqual({ id: kim.accountId, username: kim.username, displayName: `Kim ${marker}`, department: 'Finance', groups: [slapd.groupDn('tier0')], tier: 'privileged', enabled: true, locked: false });
    expect(accounts[1]).toMatchObject({ id: lea.accountId, tier: 'standard', locked: true });
    // Paged by username, as on the built-in directory; and found by username and email too.
    expect((await listed(marker, kim.username)).map((account) => account['username'])).toEqual([lea.username]);
    expect((await listed(kim.username)).map((account) => account['id'])).toEqual([kim.accountId]);
    expect((await listed(`${lea.username}@corp`)).map((account) => account['id'])).toEqual([lea.accountId]);
    // LDAP filter syntax in the query is literal text: it finds nothing and breaks nothing.
    for (const injection of ['*', '*)(uid=*', `${kim.username}*)(|(uid=*`, '\\2a', '*)(|(objectClass=*']) expect(await listed(injection), injection).toEqual([]);
    const queried = (await auditEvents(h, { types: ['admin.accounts_queried'] })).at(-1);
    expect(queried).toMatchObject({ outcome: 'success', actor: { kind: 'admin_token' }, data: { count: 0 } });

    const detail = await call(h, 'GET', `/api/admin/accounts/${encodeURIComponent(kim.accountId)}`, undefined, { token });
    expect(detail.statusCode, detail.body).toBe(200);
    expect(json<{ account: { directoryPhone: string | null } }>(detail).account.directoryPhone).toBe('+44•••••••56');
    expect(detail.body).not.toContain('900456');
    const plain = await call(h, 'GET', `/api/admin/accounts/${encodeURIComponent(lea.accountId)}`, undefined, { token });
    expect(json<{ account: { directoryPhone: string | null } }>(plain).account.directoryPhone).toBeNull();
  });

  it('answers 503 "try again shortly" while slapd is down, keeps the flow and grant, audits it, and completes once slapd is back', async () => {
    const grace = await seed('grace');
    const enrolled = await enrolEmailAndTotp(h, grace);
    const { token } = await startFlow(h, grace.username);
    const grant = await passTwoGates(h, token, enrolled);
    const flowId = json<{ flow: { flowId: string } }>(await call(h, 'GET', '/api/recovery/flow', undefined, { token: grant })).flow.flowId;
    const newPassword = 'silver herons wade through morning mist';

    await slapd.stop();
    try {
      const startedAt = Date.now();
      const down = await call(h, 'POST', '/api/recovery/flow/password', { password: newPassword, confirmPassword: newPassword }, { token: grant });
      expect(Date.now() - startedAt).toBeLessThan(5_000);
      expect(down.statusCode).toBe(503);
      expect(down.headers['retry-after']).toBe('5');
      expect(json<{ code: string; detail: string }>(down)).toMatchObject({ code: 'directory.unavailable', detail: 'The directory cannot be reached; try again shortly.' });
      // A new flow cannot start either, for anyone alike (no enumeration through the outage).
      expect((await startFlow(h, `nobody${engine}`)).response.statusCode).toBe(503);
      // PWD-12: no sign-in from anything cached while the directory is away, right password or not.
      for (const password of [grace.password, 'not her password at all']) {
        const signIn = await call(h, 'POST', '/api/me/sign-in', { username: grace.username, password });
        expect(signIn.statusCode).toBe(503);
        expect(signIn.body).not.toContain('sessionToken');
      }

      const flow = await call(h, 'GET', '/api/recovery/flow', undefined, { token: grant });
      expect(json<{ flow: { step: string } }>(flow).flow.step).toBe('awaiting_new_password');
      const outages = await auditEvents(h, { types: ['directory.unavailable'] });
      expect(outages.length).toBeGreaterThanOrEqual(1);
      expect(outages[0]).toMatchObject({ outcome: 'failure', reason: 'directory.unavailable', subject: null, actor: { kind: 'system', id: 'directory:openldap' } });
      expect(JSON.stringify(outages)).not.toContain(grace.username);
      const ready = await call(h, 'GET', '/readyz');
      expect(ready.statusCode).toBe(503);
      expect(json(ready)).toMatchObject({ checks: { directory: 'unavailable' } });
      expect(await auditEvents(h, { types: ['password.reset', 'recovery.completed'], flowId })).toEqual([]);
    } finally {
      await slapd.start();
    }

    expect((await call(h, 'GET', '/readyz')).statusCode).toBe(200);
    const back = await call(h, 'POST', '/api/recovery/flow/password', { password: newPassword, confirmPassword: newPassword }, { token: grant });
    expect(back.statusCode, back.body).toBe(200);
    expect(await slapd.checkPassword(grace.username, newPassword)).toBe(true);
    expect(await slapd.checkPassword(grace.username, grace.password)).toBe(false);
  });
});
