import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, allMessages, call, createPerson, enrolEmailAndTotp, startFlow, startHarness, type Enrolled, type Harness, type Person } from '../support/harness.ts';
import { freshGrant, messagesSince, outboxIds } from './support.ts';

/*
 * FAC-10: recovery mail goes only to the address of record and the registered (verified)
 * alternate address, never to an address taken from the request: not through arrays, lists,
 * header injection, extra fields, or an identifier that merely folds to the real one.
 */

const EVIL = /evil\.test/i;

describe.each(ENGINES)('addresses of record on %s', (engine) => {
  let h: Harness;
  let alice: Person;
  let enrolled: Enrolled;

  beforeAll(async () => {
    h = await startHarness({ engine });
    alice = await createPerson(h, 'alice');
    enrolled = await enrolEmailAndTotp(h, alice);
  });
  afterAll(async () => {
    await h.close();
  });

  /** Starts a flow with a raw identifier and, if it starts, asks for an email code. */
  async function attempt(identifier: unknown, extra: Record<string, unknown> = {}): Promise<number> {
    const started = await call(h, 'POST', '/api/recovery/flows', { identifier, ...extra });
    if (started.statusCode !== 201) return started.statusCode;
    const token = started.json<{ flowToken: string }>().flowToken;
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token });
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code', address: 'attacker@evil.test' }, { token });
    return started.statusCode;
  }

  it('FAC-10 never mails an address supplied in the request, whatever its shape', async () => {
    const shapes: [unknown, Record<string, unknown>?][] = [
      [['alice@corp.test', 'attacker@evil.test']],
      [{ email: 'alice@corp.test' }],
      ['alice@corp.test,attacker@evil.test'],
      ['alice@corp.test;attacker@evil.test'],
      ['alice@corp.test attacker@evil.test'],
      ['alice@corp.test\r\nBcc: attacker@evil.test'],
      ['alice@corp.test\nCc:attacker@evil.test'],
      ['"alice@corp.test" <attacker@evil.test>'],
      ['attacker@evil.test'],
      ['alice', { email: 'attacker@evil.test' }],
      ['alice', { to: 'attacker@evil.test' }],
      ['alice', { address: 'attacker@evil.test' }],
    ];
    const statuses: number[] = [];
    for (const [identifier, extra] of shapes) statuses.push(await attempt(identifier, extra));
    // Structured or extra input is a schema error; list-like strings start a (decoy) flow like any unknown identifier.
    expect(statuses.slice(0, 2)).toEqual([400, 400]);
    expect(statuses.slice(-3)).toEqual([400, 400, 400]);
    for (const status of statuses) expect([201, 400]).toContain(status);
    const messages = await allMessages(h);
    expect(messages.filter((message) => EVIL.test(message.to) || EVIL.test(message.subject) || EVIL.test(message.text))).toEqual([]);
  });

  it('FAC-10 sends the code to the registered address and the notices to the addresses of record, however the identifier is spelled', async () => {
    for (const identifier of ['ALICE@CORP.TEST', 'ａｌｉｃｅ@corp.test', ' Alice ']) {
      const seen = await outboxIds(h);
      const { token } = await startFlow(h, identifier);
      await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token });
      const sent = await messagesSince(h, seen);
      expect(sent.map((message) => message.to)).toEqual([enrolled.altEmail]);
    }
    const { grant } = await freshGrant(h, alice, enrolled);
    const password = 'plum rain over tin roofs';
    const seen = await outboxIds(h);
    expect((await call(h, 'POST', '/api/recovery/flow/password', { password, confirmPassword: password }, { token: grant })).statusCode).toBe(200);
    const notices = await messagesSince(h, seen);
    expect(new Set(notices.map((message) => message.to))).toEqual(new Set([alice.email, enrolled.altEmail]));
    // Every message ever queued went to one of the two addresses of record.
    for (const message of await allMessages(h)) expect([alice.email, enrolled.altEmail]).toContain(message.to);
  });
});
