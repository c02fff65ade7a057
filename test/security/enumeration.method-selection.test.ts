import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, call, createPerson, enrolEmailAndTotp, json, latestCode, startFlow, startHarness, type FlowBody, type Harness } from '../support/harness.ts';
import { SoftAuthenticator } from '../methods/webauthn.soft-authenticator.ts';
import { normalise, type Normalised } from './checks.support.ts';
import { defaultPolicy } from './support.ts';

/*
 * ENUM-3: before a first gate is passed, the method step shows the same methods and the same
 * challenge prompts for everyone, and no masked contact data at all. The list is the tier's
 * allowedMethods (the shipped standard tier now includes passkeys, `webauthn`), never the account's
 * own methods. A passkey challenge carries request options naming one credential: for an account
 * without a passkey (or no account) a decoy credential of the same shape, stable per identifier, so
 * neither the shape nor asking twice tells a real passkey from a decoy.
 */

const PHONE = '+447700900123';
/** Anything that looks like a contact hint: a masking dot or star, an address, a phone number, a domain. */
const CONTACT_HINT = /[•*]|@|\+\d|example\.org|corp\.test|0900123/;
const ORIGIN = 'https://reset.example.com';
const RP_ID = 'reset.example.com';
/** What the shipped policy lets a standard account recover with, in the order it is offered. */
const OFFERED = ['webauthn', 'totp', 'recovery_code', 'email_code', 'sms_code'] as const;
const TRANSPORTS = new Set(['ble', 'hybrid', 'internal', 'nfc', 'usb']);

interface PasskeyChallenge {
  readonly publicKey: { readonly challenge: string; readonly allowCredentials: readonly { readonly id: string; readonly type: string; readonly transports?: readonly string[] }[] } & Record<string, unknown>;
}

/** The credential a passkey challenge names, checked to be a plausible credential whoever asked. */
function namedCredential(response: { body: string }): { id: string; transports: readonly string[] } {
  const challenge = json<FlowBody>(response as never).flow.challenge as unknown as PasskeyChallenge;
  expect(challenge.publicKey.allowCredentials).toHaveLength(1);
  const [credential] = challenge.publicKey.allowCredentials;
  expect(credential?.type).toBe('public-key');
  expect(credential?.id).toMatch(/^[A-Za-z0-9_-]{22,86}$/);
  for (const transport of credential?.transports ?? []) expect(TRANSPORTS.has(transport), transport).toBe(true);
  expect(challenge.publicKey.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
  return { id: credential?.id ?? '', transports: credential?.transports ?? [] };
}

/**
 * A passkey reply with its per-request values named: the fresh challenge, the credential id (a decoy
 * and a real one need not have one length, so neither has the body length), and the transports.
 */
function scrubPasskey(reply: Normalised): Normalised {
  const scrub = (value: unknown, key = ''): unknown => {
    if (key === 'challenge' && typeof value === 'string') return '<challenge>';
    if (key === 'allowCredentials' && Array.isArray(value)) return value.map((item: Record<string, unknown>) => ({ ...item, id: '<credentialId>', ...('transports' in item ? { transports: '<transports>' } : {}) }));
    if (Array.isArray(value)) return value.map((item) => scrub(item));
    if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, k)]));
    return value;
  };
  return { ...reply, contentLength: '<scrubbed>', body: scrub(reply.body) };
}

describe.each(ENGINES)('method selection on %s', (engine) => {
  let h: Harness;
  let passkey: SoftAuthenticator;
  beforeAll(async () => {
    h = await startHarness({ engine, env: { LATCHKEY_WEBAUTHN__RP_ID: RP_ID, LATCHKEY_WEBAUTHN__ORIGINS: ORIGIN } });
    const alice = await createPerson(h, 'alice');
    const enrolled = await enrolEmailAndTotp(h, alice, { recoveryCodes: true });
    const phone = json<{ enrollment: { id: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'sms_code', phone: PHONE }, { token: enrolled.session }));
    expect((await call(h, 'POST', `/api/me/methods/${phone.enrollment.id}/verify`, { code: await latestCode(h, PHONE) }, { token: enrolled.session })).statusCode).toBe(200);
    passkey = new SoftAuthenticator();
    const added = json<{ enrollment: { id: string }; shownOnce: { publicKey: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'webauthn' }, { token: enrolled.session }));
    const creation = JSON.parse(added.shownOnce.publicKey) as { challenge: string };
    const registered = await call(h, 'POST', `/api/me/methods/${added.enrollment.id}/verify`, { credential: passkey.register(creation, ORIGIN, RP_ID) }, { token: enrolled.session });
    expect(registered.statusCode, registered.body).toBe(200);
    const methods = json<{ methods: { method: string; status: string }[] }>(await call(h, 'GET', '/api/me/methods', undefined, { token: enrolled.session })).methods;
    expect(methods.filter((method) => method.status === 'active').map((method) => method.method).sort()).toEqual([...OFFERED].sort());
    await createPerson(h, 'bob');
  });
  afterAll(async () => {
    await h.close();
  });

  it('ENUM-3 offers ghost, bob (no methods) and alice (every method) the same list of methods: the tier\'s, not the account\'s', async () => {
    expect(defaultPolicy().tiers.standard.allowedMethods).toEqual(OFFERED);
    const lists = await Promise.all(['ghost', 'bob', 'alice'].map(async (identifier) => (await startFlow(h, identifier)).body.flow.methods));
    expect(lists[0]?.map((method) => method.id)).toEqual(OFFERED);
    expect(lists[1]).toEqual(lists[0]);
    expect(lists[2]).toEqual(lists[0]);
  });

  it('ENUM-3 gives the same reply and challenge prompt for every offered method to ghost, bob and alice, with no contact hint', async () => {
    for (const method of OFFERED) {
      const replies = [];
      for (const identifier of ['ghost', 'bob', 'alice']) {
        const { token } = await startFlow(h, identifier);
        const chosen = await call(h, 'POST', '/api/recovery/flow/method', { method }, { token });
        expect(chosen.statusCode, `${identifier} ${method}`).toBe(200);
        const described = await call(h, 'GET', '/api/recovery/flow', undefined, { token });
        for (const response of [chosen, described]) expect(response.body, `${identifier} ${method}: ${response.body}`).not.toMatch(CONTACT_HINT);
        const scrub = method === 'webauthn' ? scrubPasskey : (reply: Normalised): Normalised => reply;
        if (method === 'webauthn') namedCredential(chosen);
        replies.push({ chosen: scrub(normalise(chosen)), described: scrub(normalise(described)), challenge: json<FlowBody>(chosen).flow.challenge });
      }
      expect(replies[0]?.challenge, method).toMatchObject({ methodId: method });
      const [ghost, bob, alice] = replies.map(({ chosen, described }) => ({ chosen, described }));
      expect(bob, `bob ${method}`).toEqual(ghost);
      expect(alice, `alice ${method}`).toEqual(ghost);
    }
  });

  it('ENUM-3 names one credential per identifier in a passkey challenge, the same each time it is asked, real (alice) or decoy (ghost, bob)', async () => {
    const named: Record<string, { id: string; transports: readonly string[] }[]> = {};
    for (const identifier of ['ghost', 'bob', 'alice', 'ghost', 'bob', 'alice']) {
      const { token } = await startFlow(h, identifier);
      const chosen = await call(h, 'POST', '/api/recovery/flow/method', { method: 'webauthn' }, { token });
      expect(chosen.statusCode, identifier).toBe(200);
      (named[identifier] ??= []).push(namedCredential(chosen));
    }
    for (const identifier of ['ghost', 'bob', 'alice']) expect(named[identifier]?.[1], identifier).toEqual(named[identifier]?.[0]);
    // Each identifier has its own credential; alice's is her real passkey, the others are decoys.
    const ids = ['ghost', 'bob', 'alice'].map((identifier) => named[identifier]?.[0]?.id);
    expect(new Set(ids).size).toBe(3);
    expect(named['alice']?.[0]?.id).toBe(passkey.id);
  });

  it('ENUM-3 shows no contact hint in the start reply either, for a person whose every method carries contact data', async () => {
    const started = await startFlow(h, 'alice@corp.test');
    expect(started.response.statusCode).toBe(201);
    expect(started.response.body).not.toMatch(CONTACT_HINT);
  });
});
