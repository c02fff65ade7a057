import { describe, expect, it } from 'vitest';
import { asEnrollmentId } from '../../src/core/account/ids.ts';
import type { EnrolledSecret, MethodContext, VerifyOutcome } from '../../src/core/methods/method.ts';
import { getMethod } from '../../src/core/methods/registry.ts';
import { webauthnMethod } from '../../src/core/methods/webauthn/webauthn.ts';
import { METHOD_GATE_FACTS } from '../../src/core/policy/gates.ts';
import { testContext } from './fixtures.ts';
import { SoftAuthenticator } from './webauthn.soft-authenticator.ts';

const ORIGIN = 'https://reset.example.com';
const RP = { id: 'reset.example.com', name: 'Example Corp', origins: [ORIGIN] };

function context(extra: Partial<MethodContext> = {}): MethodContext {
  return { ...testContext(), relyingParty: RP, subject: { accountId: 'acc-1', username: 'alice', displayName: 'Alice Example' }, ...extra };
}

/** Registers a soft authenticator and returns the active enrollment as the store would hold it. */
async function registered(ctx: MethodContext, authenticator = new SoftAuthenticator()): Promise<{ enrollment: EnrolledSecret; authenticator: SoftAuthenticator }> {
  const draft = await webauthnMethod.enroll({ label: 'Laptop' }, ctx);
  const pending = { id: asEnrollmentId('enr-1'), secret: draft.secret };
  const start = await webauthnMethod.beginChallenge(pending, ctx, 'enr-1');
  const options = JSON.parse(String(draft.shownOnce?.['publicKey'])) as { challenge: string };
  const outcome = await webauthnMethod.verify({ credential: authenticator.register(options, ORIGIN, RP.id) }, start.secretHash, pending, ctx);
  if (outcome.kind !== 'match' || !outcome.secretUpdate) throw new Error('registration did not verify');
  return { enrollment: { id: pending.id, secret: outcome.secretUpdate }, authenticator };
}

async function assertion(ctx: MethodContext, enrollment: EnrolledSecret | null, seed = 'seed-1') {
  const start = await webauthnMethod.beginChallenge(enrollment, ctx, seed);
  return { start, options: start.prompt.publicKey as { challenge: string; allowCredentials: { id: string; transports?: string[] }[]; rpId: string } };
}

const counterOf = (outcome: VerifyOutcome): unknown => (outcome.kind === 'match' ? outcome.secretUpdate?.['counter'] : null);

describe('webauthn method (passkeys)', () => {
  it('is registered as phishing_resistant over the security_key channel, matching the policy facts', () => {
    expect(getMethod('webauthn')).toBe(webauthnMethod);
    expect(webauthnMethod.strength).toBe('phishing_resistant');
    expect(METHOD_GATE_FACTS.webauthn).toEqual({ methodId: 'webauthn', strength: 'phishing_resistant', channel: 'security_key', countsAsGate: true });
  });

  it('offers creation options with attestation none, a preferred resident key, the policy’s user verification and an opaque user handle', async () => {
    const ctx = context();
    const draft = await webauthnMethod.enroll({}, ctx);
    const options = JSON.parse(String(draft.shownOnce?.['publicKey'])) as Record<string, unknown> & { rp: { id: string }; user: { id: string; name: string }; authenticatorSelection: Record<string, unknown> };
    expect(draft.status).toBe('pending');
    expect(draft.label).toBe('Passkey');
    expect(options['attestation']).toBe('none');
    expect(options.rp.id).toBe(RP.id);
    expect(options.authenticatorSelection).toMatchObject({ residentKey: 'preferred', userVerification: 'required' });
    expect(options.user.name).toBe('alice');
    expect(Buffer.from(options.user.id, 'base64url').toString('utf8')).not.toContain('acc-1');
  });

  it('registers a credential and then accepts its assertion, returning the raised counter to store', async () => {
    const ctx = context();
    const { enrollment, authenticator } = await registered(ctx);
    expect(enrollment.secret).toMatchObject({ credentialId: authenticator.id, counter: 0, transports: ['internal'] });
    const { start, options } = await assertion(ctx, enrollment);
    expect(options.allowCredentials).toEqual([{ id: authenticator.id, type: 'public-key', transports: ['internal'] }]);
    const outcome = await webauthnMethod.verify({ credential: authenticator.authenticate(options, ORIGIN, RP.id) }, start.secretHash, enrollment, ctx);
    expect(outcome.kind).toBe('match');
    expect(counterOf(outcome)).toBe(1);
  });

  it('refuses a registration and an assertion made on another origin (a phishing site)', async () => {
    const ctx = context();
    const draft = await webauthnMethod.enroll({}, ctx);
    const pending = { id: asEnrollmentId('enr-2'), secret: draft.secret };
    const start = await webauthnMethod.beginChallenge(pending, ctx, 'enr-2');
    const options = JSON.parse(String(draft.shownOnce?.['publicKey'])) as { challenge: string };
    const phished = new SoftAuthenticator().register(options, 'https://reset.example.com.evil.test', RP.id);
    expect((await webauthnMethod.verify({ credential: phished }, start.secretHash, pending, ctx)).kind).toBe('mismatch');

    const { enrollment, authenticator } = await registered(ctx);
    const gate = await assertion(ctx, enrollment);
    const wrongOrigin = authenticator.authenticate(gate.options, 'https://evil.test', RP.id);
    expect((await webauthnMethod.verify({ credential: wrongOrigin }, gate.start.secretHash, enrollment, ctx)).kind).toBe('mismatch');
  });

  it('refuses an assertion and a registration scoped to another relying party id', async () => {
    const ctx = context();
    const { enrollment, authenticator } = await registered(ctx);
    const gate = await assertion(ctx, enrollment);
    const otherRp = authenticator.authenticate(gate.options, ORIGIN, 'example.org');
    expect((await webauthnMethod.verify({ credential: otherRp }, gate.start.secretHash, enrollment, ctx)).kind).toBe('mismatch');

    const draft = await webauthnMethod.enroll({}, ctx);
    const pending = { id: asEnrollmentId('enr-3'), secret: draft.secret };
    const start = await webauthnMethod.beginChallenge(pending, ctx, 'enr-3');
    const creation = new SoftAuthenticator().register(JSON.parse(String(draft.shownOnce?.['publicKey'])) as { challenge: string }, ORIGIN, 'example.org');
    expect((await webauthnMethod.verify({ credential: creation }, start.secretHash, pending, ctx)).kind).toBe('mismatch');
  });

  it('refuses an assertion replayed against a later challenge', async () => {
    const ctx = context();
    const { enrollment, authenticator } = await registered(ctx);
    const first = await assertion(ctx, enrollment);
    const signed = authenticator.authenticate(first.options, ORIGIN, RP.id);
    expect((await webauthnMethod.verify({ credential: signed }, first.start.secretHash, enrollment, ctx)).kind).toBe('match');
    const second = await assertion(ctx, enrollment);
    expect(second.options.challenge).not.toBe(first.options.challenge);
    expect((await webauthnMethod.verify({ credential: signed }, second.start.secretHash, enrollment, ctx)).kind).toBe('mismatch');
  });

  it('refuses a signature counter that does not go up (a cloned authenticator)', async () => {
    const ctx = context();
    const { enrollment, authenticator } = await registered(ctx);
    const first = await assertion(ctx, enrollment);
    const used = await webauthnMethod.verify({ credential: authenticator.authenticate(first.options, ORIGIN, RP.id, { counter: 7 }) }, first.start.secretHash, enrollment, ctx);
    expect(counterOf(used)).toBe(7);
    const afterUse = { id: enrollment.id, secret: { ...enrollment.secret, counter: 7 } };
    for (const counter of [6, 7]) {
      const gate = await assertion(ctx, afterUse);
      const cloned = authenticator.authenticate(gate.options, ORIGIN, RP.id, { counter });
      expect((await webauthnMethod.verify({ credential: cloned }, gate.start.secretHash, afterUse, ctx)).kind, `counter ${counter}`).toBe('mismatch');
    }
    const gate = await assertion(ctx, afterUse);
    expect(counterOf(await webauthnMethod.verify({ credential: authenticator.authenticate(gate.options, ORIGIN, RP.id, { counter: 8 }) }, gate.start.secretHash, afterUse, ctx))).toBe(8);
  });

  it('refuses an assertion without user verification when policy requires it, and takes it when policy prefers it', async () => {
    const ctx = context();
    const { enrollment, authenticator } = await registered(ctx);
    const gate = await assertion(ctx, enrollment);
    const presenceOnly = authenticator.authenticate(gate.options, ORIGIN, RP.id, { userVerified: false });
    expect((await webauthnMethod.verify({ credential: presenceOnly }, gate.start.secretHash, enrollment, ctx)).kind).toBe('mismatch');
    const relaxed = context({ policy: { ...ctx.policy, methods: { ...ctx.policy.methods, webauthn: { userVerification: 'preferred', challengeTtlSeconds: 300 } } } });
    const again = await assertion(relaxed, enrollment);
    expect((await webauthnMethod.verify({ credential: authenticator.authenticate(again.options, ORIGIN, RP.id, { userVerified: false }) }, again.start.secretHash, enrollment, relaxed)).kind).toBe('match');
  });

  it('refuses another credential’s assertion, codes, malformed input and any decoy', async () => {
    const ctx = context();
    const { enrollment } = await registered(ctx);
    const gate = await assertion(ctx, enrollment);
    const stranger = new SoftAuthenticator().authenticate(gate.options, ORIGIN, RP.id);
    expect((await webauthnMethod.verify({ credential: stranger }, gate.start.secretHash, enrollment, ctx)).kind).toBe('mismatch');
    expect((await webauthnMethod.verify({ code: '123456' }, gate.start.secretHash, enrollment, ctx)).kind).toBe('mismatch');
    expect((await webauthnMethod.verify({ credential: { id: 'x' } }, gate.start.secretHash, enrollment, ctx)).kind).toBe('mismatch');
    const { authenticator } = await registered(ctx);
    const decoy = await assertion(ctx, null);
    expect((await webauthnMethod.verify({ credential: authenticator.authenticate(decoy.options, ORIGIN, RP.id) }, decoy.start.secretHash, null, ctx)).kind).toBe('mismatch');
  });

  it('gives a decoy request options of the same shape, stable per identifier and different between identifiers', async () => {
    const ctx = context();
    const { enrollment } = await registered(ctx);
    const real = await assertion(ctx, enrollment);
    const decoy = await assertion(ctx, null, 'decoy-seed');
    expect(Object.keys(decoy.options).sort()).toEqual(Object.keys(real.options).sort());
    expect(decoy.options.allowCredentials).toHaveLength(1);
    expect(decoy.start.ttlSeconds).toBe(real.start.ttlSeconds);
    expect(decoy.start.message).toBeNull();
    expect(decoy.start.secretHash).toMatch(/^[0-9a-f]{64}$/);
    const again = await assertion(ctx, null, 'decoy-seed');
    expect(again.options.allowCredentials).toEqual(decoy.options.allowCredentials);
    expect(again.options.challenge).not.toBe(decoy.options.challenge);
    const other = await assertion(ctx, null, 'another-seed');
    expect(other.options.allowCredentials[0]?.id).not.toBe(decoy.options.allowCredentials[0]?.id);
  });

  it('refuses to run without a relying party, naming the configuration', async () => {
    const { relyingParty: _omitted, ...withoutRp } = context();
    await expect(webauthnMethod.enroll({}, withoutRp)).rejects.toThrow(/relying party/);
  });
});
