import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Attribute, Change } from 'ldapts';
import { guidFromBytes } from '../../src/adapters/directory/ldap/active-directory-attributes.ts';
import {
  ENGINES,
  auditEvents,
  call,
  enrolEmailAndTotp,
  json,
  messagesTo,
  passTwoGates,
  roomyLimits,
  startFlow,
  startHarness,
  type FlowBody,
  type Harness,
  type Person,
} from '../support/harness.ts';
import { SAMBA_USERS_DN, sambaDirectoryConfig, startSambaAd, type SambaAd } from '../support/samba-ad.ts';

/*
 * Reset and unlock through the HTTP API in front of a real Samba AD domain controller, with the
 * connector bound as a delegated service account and history enforcement on. Every password
 * outcome is checked afterwards with ldapsearch, independently of Latchkey.
 */

let ad: SambaAd;
beforeAll(async () => {
  ad = await startSambaAd();
});
afterAll(async () => {
  await ad?.stop();
});

/** Four character classes for the domain's complexity rule; long, uncommon and name-free for Latchkey's. */
const freshPassword = (): string => `Quiet-${randomBytes(5).toString('hex')}-Harbour-7`;

describe.each(ENGINES)('Active Directory through the API on %s', (engine) => {
  let h: Harness;
  let counter = 0;

  beforeAll(async () => {
    h = await startHarness({
      engine,
      policy: [
        roomyLimits,
        // Neither Domain Admins nor Tier0 Ops is a privileged group here: the directory alone must say so.
        (policy) => void (policy.tierGroups.privileged = ['admins']),
      ],
      directory: sambaDirectoryConfig(ad, { enforceHistoryOnReset: true }),
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  /** A fresh enabled AD account (sAMAccountName within AD's 20 characters), in `groups` if given. */
  async function adPerson(stem: string, groups: readonly string[] = []): Promise<Person> {
    counter += 1;
    const username = `${stem}${engine.slice(0, 2)}${counter}${randomBytes(2).toString('hex')}`;
    const email = `${username}@corp.test`;
    const password = freshPassword();
    const guid = await ad.addPerson({ username, password, email, displayName: `Test ${stem}`, department: 'Finance', groups });
    return { username, password, email, accountId: `active_directory:${guidFromBytes(guid)}` };
  }

  async function setAttribute(person: Person, attribute: string, value: string): Promise<void> {
    const client = await ad.adminClient();
    try {
      await client.modify(`CN=${person.username},${SAMBA_USERS_DN}`, new Change({ operation: 'replace', modification: new Attribute({ type: attribute, values: [value] }) }));
    } finally {
      await client.unbind();
    }
  }

  it('resets a password: the new one binds, the old one is refused, and the reset is audited', async () => {
    const person = await adPerson('rs');
    const enrolled = await enrolEmailAndTotp(h, person);
    const { token } = await startFlow(h, person.email);
    const grant = await passTwoGates(h, token, enrolled);
    const next = freshPassword();
    const done = await call(h, 'POST', '/api/recovery/flow/password', { password: next, confirmPassword: next }, { token: grant });
    expect(done.statusCode, done.body).toBe(200);
    expect(await ad.bindWithCli(person.username, next)).toEqual({ ok: true });
    expect(await ad.bindWithCli(person.username, person.password)).toEqual({ ok: false, data: '52e' });
    const reset = (await auditEvents(h, { types: ['password.reset'] })).filter((event) => event.subject === person.accountId);
    expect(reset.map((event) => event.outcome)).toEqual(['success']);
  });

  it('unlocks an account locked by real failed binds', async () => {
    const person = await adPerson('ul');
    const enrolled = await enrolEmailAndTotp(h, person);
    await ad.lockByFailedBinds(person.username);
    expect(await ad.bindWithCli(person.username, person.password)).toEqual({ ok: false, data: '775' });
    const { token } = await startFlow(h, person.username, 'unlock');
    const grant = await passTwoGates(h, token, enrolled);
    const done = await call(h, 'POST', '/api/recovery/flow/unlock', {}, { token: grant });
    expect(done.statusCode, done.body).toBe(200);
    expect(await ad.bindWithCli(person.username, person.password)).toEqual({ ok: true });
    expect(await ad.readAccount(person.username, ['lockoutTime'])).toEqual({ lockoutTime: '0' });
    const unlocked = (await auditEvents(h, { types: ['account.unlocked'] })).filter((event) => event.subject === person.accountId);
    expect(unlocked.map((event) => event.outcome)).toEqual(['success']);
  });

  it('refuses a password the domain remembers with a readable reason, and the same grant then sets another', async () => {
    const person = await adPerson('hs');
    const enrolled = await enrolEmailAndTotp(h, person);
    const { token } = await startFlow(h, person.username);
    const grant = await passTwoGates(h, token, enrolled);
    const reused = await call(h, 'POST', '/api/recovery/flow/password', { password: person.password, confirmPassword: person.password }, { token: grant });
    expect(reused.statusCode).toBe(422);
    const problem = json<{ code: string; reasons: string[] }>(reused);
    expect(problem.code).toBe('password.policy');
    expect(problem.reasons.join(' ')).toMatch(/recent password/);
    // SECURITY (ENUM-7): none of AD's diagnostic reaches the person.
    expect(reused.body).not.toMatch(/0000052D|check_password|0x13|DC=|CN=|LDAP/i);
    const next = freshPassword();
    const done = await call(h, 'POST', '/api/recovery/flow/password', { password: next, confirmPassword: next }, { token: grant });
    expect(done.statusCode, done.body).toBe(200);
    expect(await ad.bindWithCli(person.username, next)).toEqual({ ok: true });
    expect(await ad.bindWithCli(person.username, person.password)).toEqual({ ok: false, data: '52e' });
  });

  it('walks a disabled account through a decoy: same replies as a ghost, nothing sent, nothing written, audited as a decoy', async () => {
    const person = await adPerson('ds');
    const enrolled = await enrolEmailAndTotp(h, person);
    await setAttribute(person, 'userAccountControl', '514');
    const before = await ad.readAccount(person.username, ['pwdLastSet', 'lockoutTime']);
    const sentBefore = (await messagesTo(h, enrolled.altEmail)).length;

    const disabled = await startFlow(h, person.email);
    const ghost = await startFlow(h, `ghost${counter}@corp.test`);
    expect(disabled.response.statusCode).toBe(201);
    expect({ ...disabled.body.flow, flowId: null, expiresAt: null }).toEqual({ ...ghost.body.flow, flowId: null, expiresAt: null });
    const chosen = await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: disabled.token });
    const ghostChosen = await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: ghost.token });
    expect(chosen.statusCode).toBe(ghostChosen.statusCode);
    expect(json<FlowBody>(chosen).flow.step).toBe(json<FlowBody>(ghostChosen).flow.step);

    expect((await messagesTo(h, enrolled.altEmail)).length).toBe(sentBefore);
    expect(await ad.readAccount(person.username, ['pwdLastSet', 'lockoutTime'])).toEqual(before);
    const started = (await auditEvents(h, { flowId: disabled.body.flow.flowId, types: ['recovery.started'] }))[0];
    expect(started?.data['decoy']).toBe(true);
    expect(started?.subject).toBeNull();
  });

  it('never writes the password of an account disabled in AD after its grant was issued', async () => {
    const person = await adPerson('dg');
    const enrolled = await enrolEmailAndTotp(h, person);
    const { token } = await startFlow(h, person.username);
    const grant = await passTwoGates(h, token, enrolled);
    await setAttribute(person, 'userAccountControl', '514');
    const before = await ad.readAccount(person.username, ['pwdLastSet']);
    const next = freshPassword();
    const refused = await call(h, 'POST', '/api/recovery/flow/password', { password: next, confirmPassword: next }, { token: grant });
    expect(refused.statusCode).toBeGreaterThanOrEqual(400);
    expect(refused.statusCode).toBeLessThan(500);
    expect(await ad.readAccount(person.username, ['pwdLastSet'])).toEqual(before);
    // Re-enabled, the account still has its own password: nothing was written.
    await setAttribute(person, 'userAccountControl', '512');
    expect(await ad.bindWithCli(person.username, person.password)).toEqual({ ok: true });
  });

  it('gives the privileged tier to a nested Domain Admins member and to an adminCount=1 account, though the policy lists neither', async () => {
    const nested = await adPerson('pg', ['Tier0 Ops']);
    const protectedOne = await adPerson('ac');
    await setAttribute(protectedOne, 'adminCount', '1');
    const standard = await adPerson('st');

    for (const person of [nested, protectedOne]) {
      const { body, token } = await startFlow(h, person.username);
      expect(body.flow.methods.map((method) => method.id), person.username).toEqual(['totp', 'recovery_code']);
      const forced = await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token });
      expect(forced.statusCode).toBe(422);
      expect(json(forced)['code']).toBe('method.not_allowed');
      const started = (await auditEvents(h, { flowId: body.flow.flowId, types: ['recovery.started'] }))[0];
      expect(started?.tier).toBe('privileged');
    }
    const { body } = await startFlow(h, standard.username);
    expect(body.flow.methods.map((method) => method.id)).toContain('email_code');
    expect((await auditEvents(h, { flowId: body.flow.flowId, types: ['recovery.started'] }))[0]?.tier).toBe('standard');
  });

  it('answers a refused sign-in the same whatever AD said (52e, 775, 533, no such user), with no AD diagnostic', async () => {
    const wrong = await adPerson('sw');
    const locked = await adPerson('sl');
    const disabled = await adPerson('sd');
    await ad.lockByFailedBinds(locked.username);
    await setAttribute(disabled, 'userAccountControl', '514');
    const signIn = (username: string, password: string) => call(h, 'POST', '/api/me/sign-in', { username, password });
    const reference = await signIn(`ghost${counter}`, 'Whatever-It-Is-42');
    expect(reference.statusCode).toBe(401);
    for (const [username, password] of [
      [wrong.username, 'Not-The-Password-42'],
      [locked.username, locked.password],
      [disabled.username, disabled.password],
    ] as const) {
      const response = await signIn(username, password);
      expect(response.statusCode, username).toBe(401);
      expect(json(response), username).toEqual(json(reference));
      expect(response.body).not.toMatch(/data [0-9a-f]{3}|AcceptSecurityContext|80090308|DC=|LDAP/i);
    }
  });

  it('answers 503 while the DC is down, keeps the grant, audits the outage, and completes once the DC is back', async () => {
    const person = await adPerson('dn');
    const enrolled = await enrolEmailAndTotp(h, person);
    const { token, body } = await startFlow(h, person.username);
    const grant = await passTwoGates(h, token, enrolled);
    const next = freshPassword();
    await ad.stopServer();
    try {
      const down = await call(h, 'POST', '/api/recovery/flow/password', { password: next, confirmPassword: next }, { token: grant });
      expect(down.statusCode).toBe(503);
      expect(json(down)['code']).toBe('directory.unavailable');
      const flow = await call(h, 'GET', '/api/recovery/flow', undefined, { token: grant });
      expect(json<FlowBody>(flow).flow.step).toBe('awaiting_new_password');
      const outages = await auditEvents(h, { types: ['directory.unavailable'] });
      expect(outages.at(-1)).toMatchObject({ outcome: 'failure', subject: null, actor: { kind: 'system', id: 'directory:active_directory' } });
      const finished = await auditEvents(h, { types: ['password.reset', 'recovery.completed'], flowId: body.flow.flowId });
      expect(finished.filter((event) => event.outcome === 'success')).toEqual([]);
    } finally {
      await ad.startServer();
    }
    const back = await call(h, 'POST', '/api/recovery/flow/password', { password: next, confirmPassword: next }, { token: grant });
    expect(back.statusCode, back.body).toBe(200);
    expect(await ad.bindWithCli(person.username, next)).toEqual({ ok: true });
    expect(await ad.bindWithCli(person.username, person.password)).toEqual({ ok: false, data: '52e' });
  });

  it('treats LDAP injection in an identifier as an unknown account', async () => {
    await adPerson('in');
    for (const identifier of ['*', '*)(sAMAccountName=*', 'in*', '*)(|(objectClass=*', 'x)(mail=*@corp.test', '*@corp.test']) {
      const started = await startFlow(h, identifier);
      expect(started.response.statusCode, identifier).toBe(201);
      const event = (await auditEvents(h, { flowId: started.body.flow.flowId, types: ['recovery.started'] }))[0];
      expect(event?.data['decoy'], identifier).toBe(true);
      expect(event?.subject, identifier).toBeNull();
    }
  });
});
