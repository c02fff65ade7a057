import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, allMessages, auditEvents, call, createPerson, enrolEmailAndTotp, json, startHarness, type Enrolled, type Harness } from '../support/harness.ts';
import { createAccount, normalise } from './checks.support.ts';

/*
 * INP-9: an identifier must name exactly one account. One that names two (two accounts sharing a
 * work email, also when the second was typed in another spelling of the same address) gets the
 * generic reply and sends nothing to either; a username can never be another account's email,
 * because usernames cannot hold '@'.
 */

describe.each(ENGINES)('ambiguous identifiers on %s', (engine) => {
  let h: Harness;
  const enrolled: Record<string, Enrolled> = {};
  beforeAll(async () => {
    h = await startHarness({ engine });
    for (const username of ['pat', 'quinn']) {
      const person = await createAccount(h, { username, email: 'shared@corp.test' });
      enrolled[username] = await enrolEmailAndTotp(h, { ...person, email: 'shared@corp.test' });
    }
    const rita = await createPerson(h, 'rita');
    enrolled['rita'] = await enrolEmailAndTotp(h, rita);
  });
  afterAll(async () => {
    await h.close();
  });

  async function attempt(identifier: string): Promise<{ reply: ReturnType<typeof normalise>; sentTo: string[]; decoy: unknown; subject: unknown }> {
    const before = (await allMessages(h)).length;
    const started = await call(h, 'POST', '/api/recovery/flows', { identifier });
    const body = json<{ flowToken: string; flow: { flowId: string } }>(started);
    for (const method of ['email_code', 'sms_code']) expect((await call(h, 'POST', '/api/recovery/flow/method', { method }, { token: body.flowToken })).statusCode).toBe(200);
    const event = (await auditEvents(h, { flowId: body.flow.flowId, types: ['recovery.started'] }))[0];
    return { reply: normalise(started), sentTo: (await allMessages(h)).slice(before).map((message) => message.to), decoy: event?.data['decoy'], subject: event?.subject };
  }

  it('INP-9 gives an email shared by two accounts the generic reply and sends nothing to either', async () => {
    const ghost = await attempt('ghost@corp.test');
    for (const identifier of ['shared@corp.test', 'SHARED@corp.test', '\uff53hared@corp.test']) {
      const shared = await attempt(identifier);
      expect(shared.reply, identifier).toEqual(ghost.reply);
      expect(shared.sentTo, identifier).toEqual([]);
      expect(shared.decoy).toBe(true);
      expect(shared.subject).toBeNull();
    }
    // Each is still found, and mailed at its own address, by its own username.
    expect((await attempt('pat')).sentTo).toEqual([enrolled['pat']?.altEmail]);
    expect((await attempt('quinn')).sentTo).toEqual([enrolled['quinn']?.altEmail]);
  });

  it('INP-9 refuses to sign in by an email shared by two accounts, even with the right password of one of them', async () => {
    const response = await call(h, 'POST', '/api/me/sign-in', { username: 'shared@corp.test', password: 'pat strolls past nine amber lanterns' });
    expect(response.statusCode).toBe(401);
    expect(json<{ code: string }>(response).code).toBe('auth.failed');
    expect(json<{ status: string }>(await call(h, 'POST', '/api/me/sign-in', { username: 'pat', password: 'pat strolls past nine amber lanterns' })).status).toBe('gate_required');
  });

  it("INP-9 makes an email ambiguous, not re-pointed, when a later account is given another spelling of it", async () => {
    expect((await attempt('rita@corp.test')).sentTo).toEqual([enrolled['rita']?.altEmail]);
    await createAccount(h, { username: 'rita2', email: '\uff32\uff29\uff34\uff21@CORP.test' });
    const after = await attempt('rita@corp.test');
    expect(after.sentTo).toEqual([]);
    expect(after.decoy).toBe(true);
    expect((await attempt('rita')).sentTo).toEqual([enrolled['rita']?.altEmail]);
  });

  it("INP-9 refuses a username that is an email address, so no username can equal another account's email", async () => {
    for (const username of ['pat@corp.test', 'shared@corp.test', 'rita@corp.test', 'x@y']) {
      await expect(createAccount(h, { username }), username).rejects.toMatchObject({ code: 'request.invalid' });
    }
    expect((await h.latchkey.store.builtinAccounts.list({ limit: 100 })).map((account) => account.username).filter((name) => name.includes('@'))).toEqual([]);
  });
});
