import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asEnrollmentId } from '../../src/core/account/ids.ts';
import { enrollmentContext } from '../../src/core/enrollment/secrets.ts';
import { auditEvents, call, createPerson, enrolEmailAndTotp, ENGINES, json, oathtoolCode, roomyLimits, signInFresh, startFlow, startHarness, type Enrolled, type FlowBody, type Harness, type Person } from '../support/harness.ts';
import { allowPasskeys, SoftAuthenticator } from './webauthn.soft-authenticator.ts';

/*
 * Passkeys through the JSON API on every engine, verified for real by @simplewebauthn/server with a
 * software authenticator: registration (options, then the credential), a recovery gate (the flow's
 * challenge, single use), the self-service sign-in gate, and the refusals that matter: a replayed
 * assertion, a counter that goes backwards, another origin.
 */

const ORIGIN = 'https://reset.example.com';
const RP_ID = 'reset.example.com';

interface PasskeyOptions {
  readonly challenge: string;
  readonly allowCredentials?: readonly { id: string }[];
}

describe.each(ENGINES)('passkeys through the API (%s)', (engine) => {
  let h: Harness;
  let alice: Person;
  let enrolled: Enrolled;
  const authenticator = new SoftAuthenticator();
  let enrollmentId = '';

  beforeAll(async () => {
    h = await startHarness({ engine, policy: [roomyLimits, allowPasskeys, (policy) => void (policy.adminRoles = { security_admin: ['sec-admins'], helpdesk: [], auditor: [] })], env: { LATCHKEY_WEBAUTHN__RP_ID: RP_ID, LATCHKEY_WEBAUTHN__ORIGINS: ORIGIN } });
    alice = await createPerson(h, 'alice');
    enrolled = await enrolEmailAndTotp(h, alice);
  });
  afterAll(async () => h.close());

  /** Chooses the passkey for the flow's next gate and returns the request options it offers. */
  async function passkeyGate(token: string): Promise<PasskeyOptions> {
    const chosen = json<FlowBody>(await call(h, 'POST', '/api/recovery/flow/method', { method: 'webauthn' }, { token }));
    const challenge = chosen.flow.challenge as { answerKind: string; publicKey: PasskeyOptions };
    expect(challenge.answerKind).toBe('passkey');
    return challenge.publicKey;
  }

  it('registers a passkey: options from POST /api/me/methods, the credential to /verify; the secret is stored encrypted', async () => {
    const added = await call(h, 'POST', '/api/me/methods', { method: 'webauthn', label: 'Work laptop' }, { token: enrolled.session });
    expect(added.statusCode).toBe(201);
    const body = json<{ enrollment: { id: string; status: string }; shownOnce: { publicKey: string } }>(added);
    expect(body.enrollment.status).toBe('pending');
    enrollmentId = body.enrollment.id;
    const options = JSON.parse(body.shownOnce.publicKey) as { challenge: string; rp: { id: string } };
    expect(options.rp.id).toBe(RP_ID);

    const phished = await call(h, 'POST', `/api/me/methods/${enrollmentId}/verify`, { credential: new SoftAuthenticator().register(options, 'https://evil.test', RP_ID) }, { token: enrolled.session });
    expect(phished.statusCode).toBe(422);
    expect(json(phished)['code']).toBe('challenge.invalid');

    const verified = await call(h, 'POST', `/api/me/methods/${enrollmentId}/verify`, { credential: authenticator.register(options, ORIGIN, RP_ID) }, { token: enrolled.session });
    expect(verified.statusCode, verified.body).toBe(200);
    expect(json<{ enrollment: { status: string; method: string } }>(verified).enrollment).toMatchObject({ status: 'active', method: 'webauthn' });

    const record = await h.latchkey.store.enrollments.get(asEnrollmentId(enrollmentId));
    expect(record?.secretCiphertext).not.toContain(authenticator.id);
    const secret = JSON.parse(h.latchkey.deps.cipher.decrypt(record?.secretCiphertext ?? '', enrollmentContext(enrollmentId))) as Record<string, unknown>;
    expect(secret).toMatchObject({ credentialId: authenticator.id, counter: 0 });
    expect(secret).not.toHaveProperty('registrationChallenge');
    const activated = await auditEvents(h, { types: ['enrollment.activated'] });
    expect(activated.some((event) => event.data['method'] === 'webauthn' && event.data['enrollment_id'] === enrollmentId)).toBe(true);
  });

  it('replaces an enrollment secret only compare-and-set, so one of two writers that read the same counter loses', async () => {
    const id = asEnrollmentId(enrollmentId);
    const read = (await h.latchkey.store.enrollments.get(id))?.secretCiphertext ?? '';
    const next = h.latchkey.deps.cipher.encrypt(JSON.stringify({ credentialId: authenticator.id, counter: 0 }), enrollmentContext(enrollmentId));
    expect(await h.latchkey.store.enrollments.replaceSecret(id, 'not what is stored', next)).toBe(false);
    expect(await h.latchkey.store.enrollments.replaceSecret(id, read, read)).toBe(true);
    const [first, second] = await Promise.all([h.latchkey.store.enrollments.replaceSecret(id, read, next), h.latchkey.store.enrollments.replaceSecret(id, read, next)]);
    expect([first, second].filter(Boolean)).toHaveLength(1);
    expect(await h.latchkey.store.enrollments.replaceSecret(id, next, read)).toBe(true);
  });

  it('refuses a malformed credential at the edge with 400 naming the field', async () => {
    const almost = { ...authenticator.authenticate({ challenge: 'AAAA' }, ORIGIN, RP_ID), rawId: 'not base64url!' };
    authenticator.counter -= 1;
    const response = await call(h, 'POST', '/api/recovery/flow/answer', { credential: almost }, { token: 'nope' });
    expect(response.statusCode).toBe(400);
    expect(json(response)['code']).toBe('request.invalid');
    expect(String(json(response)['detail'])).toMatch(/^body\.credential\.rawId: must be base64url/);
  });

  it('passes a recovery gate with the passkey, then the authenticator app as the second', async () => {
    const { token } = await startFlow(h, alice.email);
    const options = await passkeyGate(token);
    expect(options.allowCredentials?.map((item) => item.id)).toEqual([authenticator.id]);
    const answered = await call(h, 'POST', '/api/recovery/flow/answer', { credential: authenticator.authenticate(options, ORIGIN, RP_ID) }, { token });
    expect(answered.statusCode, answered.body).toBe(200);
    const first = json<FlowBody>(answered);
    expect(first.flow.gatesPassed).toBe(1);
    expect(first.flowToken).toBeDefined();
    const next = first.flowToken ?? '';
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token: next });
    const second = json<FlowBody>(await call(h, 'POST', '/api/recovery/flow/answer', { code: oathtoolCode(enrolled.totpSeed, h.clock) }, { token: next }));
    expect(second.flow.step).toBe('awaiting_new_password');
    const record = await h.latchkey.store.enrollments.get(asEnrollmentId(enrollmentId));
    expect(JSON.parse(h.latchkey.deps.cipher.decrypt(record?.secretCiphertext ?? '', enrollmentContext(enrollmentId)))).toMatchObject({ counter: authenticator.counter });
    expect(record?.lastUsedAt).not.toBeNull();
    h.clock.advance(30);
  });

  it('refuses an assertion replayed into a new flow, and a counter that went backwards', async () => {
    const first = await startFlow(h, alice.email);
    const options = await passkeyGate(first.token);
    const signed = authenticator.authenticate(options, ORIGIN, RP_ID);
    expect((await call(h, 'POST', '/api/recovery/flow/answer', { credential: signed }, { token: first.token })).statusCode).toBe(200);

    const second = await startFlow(h, alice.email);
    await passkeyGate(second.token);
    const replayed = await call(h, 'POST', '/api/recovery/flow/answer', { credential: signed }, { token: second.token });
    expect(replayed.statusCode).toBe(422);
    expect(json(replayed)['code']).toBe('challenge.invalid');

    const third = await startFlow(h, alice.email);
    const fresh = await passkeyGate(third.token);
    const cloned = await call(h, 'POST', '/api/recovery/flow/answer', { credential: authenticator.authenticate(fresh, ORIGIN, RP_ID, { counter: 1 }) }, { token: third.token });
    expect(cloned.statusCode).toBe(422);
    const failed = await auditEvents(h, { types: ['challenge.failed'], flowId: json<FlowBody>(cloned).flow.flowId });
    expect(failed).toHaveLength(1);
  });

  it('is the gate of a self-service sign-in once registered', async () => {
    const signIn = json<{ status: string; flowToken: string }>(await call(h, 'POST', '/api/me/sign-in', { username: alice.username, password: alice.password }));
    expect(signIn.status).toBe('gate_required');
    const options = await passkeyGate(signIn.flowToken);
    authenticator.counter += 10;
    const answered = json<{ sessionToken?: string }>(await call(h, 'POST', '/api/recovery/flow/answer', { credential: authenticator.authenticate(options, ORIGIN, RP_ID) }, { token: signIn.flowToken }));
    expect(answered.sessionToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('re-confirms a passkey with an assertion to the options the re-confirmation returns, once', async () => {
    const begun = await call(h, 'POST', `/api/me/methods/${enrollmentId}/reconfirm`, {}, { token: enrolled.session });
    expect(begun.statusCode, begun.body).toBe(201);
    const { reconfirmationId, publicKey } = json<{ reconfirmationId: string; publicKey: PasskeyOptions }>(begun);
    expect(publicKey.allowCredentials?.map((item) => item.id)).toEqual([authenticator.id]);
    const credential = authenticator.authenticate(publicKey, ORIGIN, RP_ID);
    const confirmed = await call(h, 'POST', `/api/me/methods/${enrollmentId}/reconfirm/verify`, { reconfirmationId, credential }, { token: enrolled.session });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    const replayed = await call(h, 'POST', `/api/me/methods/${enrollmentId}/reconfirm/verify`, { reconfirmationId, credential }, { token: enrolled.session });
    expect(replayed.statusCode).toBe(422);
    const events = await auditEvents(h, { types: ['enrollment.reconfirmed'] });
    expect(events.filter((event) => event.data['enrollment_id'] === enrollmentId).map((event) => event.outcome)).toEqual(['success', 'failure']);
  });

  it('signs an admin in to the console with a passkey as the second factor, once per challenge', async () => {
    const admin = await createPerson(h, 'adminpk', { groups: ['sec-admins'] });
    const key = new SoftAuthenticator();
    const session = await signInFresh(h, admin);
    const added = json<{ enrollment: { id: string }; shownOnce: { publicKey: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'webauthn' }, { token: session }));
    expect((await call(h, 'POST', `/api/me/methods/${added.enrollment.id}/verify`, { credential: key.register(JSON.parse(added.shownOnce.publicKey) as PasskeyOptions, ORIGIN, RP_ID) }, { token: session })).statusCode).toBe(200);

    const start = async () => json<{ pendingToken: string; secondFactor: string; methods: string[] }>(await call(h, 'POST', '/api/admin/session', { username: admin.username, password: admin.password }));
    const pending = await start();
    expect(pending).toMatchObject({ secondFactor: 'webauthn', methods: ['webauthn'] });
    const options = json<{ challengeId: string; publicKey: PasskeyOptions }>(await call(h, 'POST', '/api/admin/session/passkey', { pendingToken: pending.pendingToken }));
    const phished = await call(h, 'POST', '/api/admin/session/second-factor', { pendingToken: pending.pendingToken, challengeId: options.challengeId, credential: key.authenticate(options.publicKey, 'https://evil.test', RP_ID) });
    expect(phished.statusCode).toBe(422);
    const again = json<{ challengeId: string; publicKey: PasskeyOptions }>(await call(h, 'POST', '/api/admin/session/passkey', { pendingToken: pending.pendingToken }));
    const credential = key.authenticate(again.publicKey, ORIGIN, RP_ID);
    const signedIn = await call(h, 'POST', '/api/admin/session/second-factor', { pendingToken: pending.pendingToken, challengeId: again.challengeId, credential });
    expect(signedIn.statusCode, signedIn.body).toBe(200);
    expect(json(signedIn)['status']).toBe('signed_in');
    const events = await auditEvents(h, { types: ['admin.signed_in'] });
    expect(events.at(-1)?.data['second_factor']).toBe('webauthn');

    // The same assertion cannot open another sign-in: its challenge is used, and older than the new pending sign-in.
    const next = await start();
    const replayed = await call(h, 'POST', '/api/admin/session/second-factor', { pendingToken: next.pendingToken, challengeId: again.challengeId, credential });
    expect(replayed.statusCode).toBe(422);
  });

  it('gives an unknown identifier a passkey prompt of the same shape (ENUM-3)', async () => {
    const real = await startFlow(h, alice.email);
    const decoy = await startFlow(h, 'nobody@corp.test');
    const realOptions = await passkeyGate(real.token);
    const decoyOptions = await passkeyGate(decoy.token);
    expect(Object.keys(decoyOptions).sort()).toEqual(Object.keys(realOptions).sort());
    expect(decoyOptions.allowCredentials).toHaveLength(1);
    const refused = await call(h, 'POST', '/api/recovery/flow/answer', { credential: authenticator.authenticate(decoyOptions, ORIGIN, RP_ID) }, { token: decoy.token });
    expect(refused.statusCode).toBe(422);
  });
});
