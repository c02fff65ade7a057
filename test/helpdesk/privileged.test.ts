import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, call, createPerson, enrolEmailAndTotp, ENGINES, json, oathtoolCode, type Enrolled, type Harness, type Person } from '../support/harness.ts';
import { HELPDESK_GROUP, SECURITY_ADMIN_GROUP, signInOperator, signInWithPass, startHelpdeskHarness, verifyOutOfBand, type Operator } from './support.ts';

describe.each(ENGINES)('who may issue a pass for whom (%s)', (engine) => {
  let h: Harness;
  let bob: Person;
  let bobMethods: Enrolled;
  let glass: Person;
  let carol: Person;
  let helpdesk: Operator;
  let securityAdmin: Operator;
  let apiToken: string;

  beforeAll(async () => {
    h = await startHelpdeskHarness(engine);
    bob = await createPerson(h, 'bob', { groups: ['admins'] });
    bobMethods = await enrolEmailAndTotp(h, bob);
    glass = await createPerson(h, 'glass', { groups: ['break-glass'] });
    carol = await createPerson(h, 'carol');
    helpdesk = await signInOperator(h, 'hd1', [HELPDESK_GROUP]);
    securityAdmin = await signInOperator(h, 'sec1', [SECURITY_ADMIN_GROUP]);
    const created = await h.latchkey.adminTokens.create({ name: 'helpdesk tool', scopes: ['tap:issue'] }, { kind: 'cli', id: 'test' });
    apiToken = created.token;
  });
  afterAll(async () => {
    await h.close();
  });

  it('refuses the helpdesk a pass for a privileged account, and audits the refusal', async () => {
    const lookup = json<{ issueRefusal: string | null }>(await call(h, 'GET', '/api/admin/helpdesk/accounts/bob', undefined, { token: helpdesk.token }));
    expect(lookup.issueRefusal).toBe('target_privileged');
    const response = await call(h, 'POST', '/api/admin/helpdesk/verifications', { accountId: bob.accountId, method: 'out_of_band', reason: 'He says he is Bob, honestly', ticket: 'HD-7' }, { token: helpdesk.token });
    expect(response.statusCode).toBe(403);
    expect(json(response)['code']).toBe('helpdesk.forbidden');
    const refused = (await auditEvents(h, { types: ['helpdesk.issue_refused'] })).filter((event) => event.subject === bob.accountId);
    expect(refused.at(-1)?.data).toMatchObject({ rule: 'target_privileged', agent_account: helpdesk.person.accountId });
    expect(refused.at(-1)?.actor).toEqual({ kind: 'admin', id: helpdesk.person.accountId });
  });

  it('refuses an API token a privileged pass too: no role stands behind a token', async () => {
    const response = await call(h, 'POST', '/api/admin/helpdesk/verifications', { accountId: bob.accountId, method: 'method_code' }, { token: apiToken });
    expect(response.statusCode).toBe(403);
  });

  it('lets a security admin issue it, but not on an out-of-band check the policy forbids for privileged accounts', async () => {
    const oob = await call(h, 'POST', '/api/admin/helpdesk/verifications', { accountId: bob.accountId, method: 'out_of_band', reason: 'Checked his badge at the desk', ticket: 'SEC-1' }, { token: securityAdmin.token });
    expect(oob.statusCode).toBe(422);
    expect(json(oob)['code']).toBe('helpdesk.verification_not_allowed');

    const methods = json<{ methods: { id: string; method: string }[] }>(await call(h, 'GET', '/api/me/methods', undefined, { token: bobMethods.session })).methods;
    const totp = methods.find((method) => method.method === 'totp');
    const started = await call(h, 'POST', '/api/admin/helpdesk/verifications', { accountId: bob.accountId, method: 'method_code', enrollmentId: totp?.id }, { token: securityAdmin.token });
    expect(started.statusCode, started.body).toBe(200);
    const id = json<{ verification: { id: string } }>(started).verification.id;
    // Bob reads the current code of his authenticator app to the security admin.
    const checked = await call(h, 'POST', `/api/admin/helpdesk/verifications/${id}/code`, { code: oathtoolCode(bobMethods.totpSeed, h.clock) }, { token: securityAdmin.token });
    expect(checked.statusCode, checked.body).toBe(200);
    // Another operator cannot use the security admin's verification.
    const stolen = await call(h, 'POST', '/api/admin/helpdesk/passes', { accountId: bob.accountId, verificationId: id }, { token: helpdesk.token });
    expect(stolen.statusCode).toBe(403);
    const issued = await call(h, 'POST', '/api/admin/helpdesk/passes', { accountId: bob.accountId, verificationId: id, lifetimeSeconds: 600 }, { token: securityAdmin.token });
    expect(issued.statusCode, issued.body).toBe(200);
    const pass = json<{ pass: string }>(issued).pass;
    expect((await signInWithPass(h, bob.username, pass)).statusCode).toBe(200);
  });

  it('refuses every operator a pass for their own account, the security admin included', async () => {
    for (const operator of [securityAdmin, helpdesk]) {
      const response = await call(h, 'POST', '/api/admin/helpdesk/verifications', { accountId: operator.person.accountId, method: 'out_of_band', reason: 'It is me, I promise you that', ticket: 'SELF-1' }, { token: operator.token });
      expect(response.statusCode).toBe(403);
      expect(json(response)['code']).toBe('helpdesk.forbidden');
    }
    const refusals = (await auditEvents(h, { types: ['helpdesk.issue_refused'] })).filter((event) => event.data['rule'] === 'own_account');
    expect(refusals.map((event) => event.subject).sort()).toEqual([helpdesk.person.accountId, securityAdmin.person.accountId].sort());
  });

  it('never issues a pass for a break-glass account, whoever asks', async () => {
    const response = await call(h, 'POST', '/api/admin/helpdesk/verifications', { accountId: glass.accountId, method: 'method_code' }, { token: securityAdmin.token });
    expect(response.statusCode).toBe(403);
    expect((await auditEvents(h, { types: ['helpdesk.issue_refused'] })).some((event) => event.subject === glass.accountId && event.data['rule'] === 'break_glass')).toBe(true);
  });

  it('lets the helpdesk serve a standard account, and needs the tap:issue permission for any of it', async () => {
    const verificationId = await verifyOutOfBand(h, helpdesk, carol.accountId);
    const issued = await call(h, 'POST', '/api/admin/helpdesk/passes', { accountId: carol.accountId, verificationId }, { token: helpdesk.token });
    expect(issued.statusCode, issued.body).toBe(200);
    const readOnly = await h.latchkey.adminTokens.create({ name: 'reader', scopes: ['accounts:read'] }, { kind: 'cli', id: 'test' });
    const denied = await call(h, 'GET', '/api/admin/helpdesk/accounts/carol', undefined, { token: readOnly.token });
    expect(denied.statusCode).toBe(403);
    expect((await call(h, 'GET', '/api/admin/helpdesk/accounts/carol')).statusCode).toBe(401);
  });
});
