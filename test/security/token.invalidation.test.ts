import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kyselyOf } from '../../src/adapters/store/kysely-store.ts';
import { ENGINES, auditEvents, call, createPerson, enrolEmailAndTotp, json, latestCode, startFlow, startHarness, type Enrolled, type FlowBody, type Harness, type Person } from '../support/harness.ts';
import { freshGrant, tick } from './support.ts';

/*
 * TOK-7: a new code replaces the older one, and a successful reset (or unlock) ends every other
 * open flow, grant, code and session of the account.
 */

describe.each(ENGINES)('invalidation of older tokens and codes on %s', (engine) => {
  let h: Harness;
  let ivy: Person;
  let enrolled: Enrolled;

  beforeAll(async () => {
    h = await startHarness({ engine });
    ivy = await createPerson(h, 'ivy');
    enrolled = await enrolEmailAndTotp(h, ivy);
  });
  afterAll(async () => {
    await h.close();
  });

  it('TOK-7 replaces the older code when a new one is requested in the flow', async () => {
    const { token } = await startFlow(h, 'ivy');
    tick(h);
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token });
    const older = await latestCode(h, enrolled.altEmail);
    tick(h);
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token });
    const newer = await latestCode(h, enrolled.altEmail);
    expect(newer).not.toBe(older);
    const stale = await call(h, 'POST', '/api/recovery/flow/answer', { code: older }, { token });
    expect(stale.statusCode).toBe(422);
    expect(json(stale)['code']).toBe('challenge.invalid');
    expect((await call(h, 'POST', '/api/recovery/flow/answer', { code: newer }, { token })).statusCode).toBe(200);
  });

  it('TOK-7 ends every other open flow, grant and code of the account when a reset succeeds', async () => {
    // B: a flow waiting for an emailed code; C: a flow holding a grant; D: a flow just started.
    const b = await startFlow(h, 'ivy');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: b.token });
    const codeB = await latestCode(h, enrolled.altEmail);
    const c = await freshGrant(h, ivy, enrolled);
    const d = await startFlow(h, 'ivy');
    const a = await freshGrant(h, ivy, enrolled);

    const password = 'nine quiet owls above the orchard';
    expect((await call(h, 'POST', '/api/recovery/flow/password', { password, confirmPassword: password }, { token: a.grant })).statusCode).toBe(200);

    expect((await call(h, 'POST', '/api/recovery/flow/answer', { code: codeB }, { token: b.token })).statusCode).toBe(404);
    expect((await call(h, 'GET', '/api/recovery/flow', undefined, { token: b.token })).statusCode).toBe(404);
    const other = 'a grant that should be dead by now';
    expect((await call(h, 'POST', '/api/recovery/flow/password', { password: other, confirmPassword: other }, { token: c.grant })).statusCode).toBe(404);
    expect((await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: d.token })).statusCode).toBe(404);
    expect(await h.latchkey.deps.directory.verifyPassword(ivy.accountId as never, password)).toBe('valid');

    // Grey-box: no challenge of the account is left open, so B's code is dead at rest as well.
    const open = await kyselyOf(h.latchkey.store).selectFrom('challenges').select('id').where('account_id', '=', ivy.accountId as never).where('consumed_at', 'is', null).execute();
    expect(open).toEqual([]);
    const superseded = (await auditEvents(h, { types: ['recovery.superseded'] })).filter((event) => event.data['by_flow'] === a.flowId).map((event) => event.flowId);
    expect(superseded).toEqual(expect.arrayContaining([b.body.flow.flowId, c.flowId, d.body.flow.flowId]));
    expect(superseded).not.toContain(a.flowId);
  });

  it('TOK-7 ends the other flows after an unlock too', async () => {
    const other = await startFlow(h, 'ivy');
    const { grant } = await freshGrant(h, ivy, enrolled, 'unlock');
    expect((await call(h, 'POST', '/api/recovery/flow/unlock', {}, { token: grant })).statusCode).toBe(200);
    expect((await call(h, 'GET', '/api/recovery/flow', undefined, { token: other.token })).statusCode).toBe(404);
  });

  it('TOK-7 a new flow after the reset starts from nothing: no gate carries over', async () => {
    const fresh = await startFlow(h, 'ivy');
    expect(fresh.body.flow.gatesPassed).toBe(0);
    expect(json<FlowBody>(await call(h, 'GET', '/api/recovery/flow', undefined, { token: fresh.token })).flow.step).toBe('awaiting_method_choice');
  });
});
