import type { LightMyRequestResponse } from 'fastify';
import type { OutboundMessage } from '../../src/core/ports/message-channel.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, allMessages, call, roomyLimits, createPerson, enrolEmailAndTotp, json, latestCode, startFlow, startHarness, type Enrolled, type FlowBody, type Harness, type Person } from '../support/harness.ts';
import { codesTo, enrolPhone, nextTotpStep, passEmailGate, signInWithGate } from './support.ts';
import { helpdeskToken } from '../helpdesk/support.ts';

/*
 * The API parts of TOK-9 (reading never consumes), TOK-10 (the flow secret never travels in a URL;
 * no Referer leaks), TOK-11 (messages carry no link built from request headers) and TOK-12 (no
 * response ever echoes a code, TOTP seed or recovery code, except the one reply that shows newly
 * generated ones to their owner). Recovery itself sends codes, not links; the links messages do
 * carry are the "this wasn't me" link of a method-change notice (docs/lifecycle.md, base
 * `portal.publicUrl`) and the manager's approval link of the helpdesk path
 * (docs/helpdesk-and-tap.md, base `helpdesk.approvalBaseUrl`, else `portal.publicUrl`). Without
 * either key both fall back to the configured listen address (`host`, `port`), never to a header.
 */

describe.each(ENGINES)('leakage of codes and tokens on %s', (engine) => {
  let h: Harness;
  let lou: Person;
  let enrolled: Enrolled;
  const phone = '+447700900444';
  const traffic: LightMyRequestResponse[] = [];

  const record = async (response: Promise<LightMyRequestResponse>): Promise<LightMyRequestResponse> => {
    const settled = await response;
    traffic.push(settled);
    return settled;
  };

  beforeAll(async () => {
    h = await startHarness({ engine });
    lou = await createPerson(h, 'lou');
    enrolled = await enrolEmailAndTotp(h, lou, { recoveryCodes: true });
    await enrolPhone(h, enrolled.session, phone);
  });
  afterAll(async () => {
    await h.close();
  });

  it('TOK-9 reading a flow (as a mail scanner would) changes nothing: the code still works afterwards', async () => {
    const { token, body } = await startFlow(h, 'lou');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token });
    const code = await latestCode(h, enrolled.altEmail);
    const before = await h.latchkey.store.flows.get(body.flow.flowId as never);
    for (let i = 0; i < 3; i += 1) {
      expect((await record(call(h, 'GET', '/api/recovery/flow', undefined, { token, headers: { 'user-agent': 'Mozilla/5.0 (compatible; SafeLinks scanner)' } }))).statusCode).toBe(200);
    }
    const after = await h.latchkey.store.flows.get(body.flow.flowId as never);
    expect(after?.version).toBe(before?.version);
    expect(after?.state).toBe(before?.state);
    expect((await record(call(h, 'POST', '/api/recovery/flow/answer', { code }, { token }))).statusCode).toBe(200);
  });

  it('TOK-10 takes the flow token only from the Authorization header, never from the URL, and replies with Referrer-Policy: no-referrer', async () => {
    const { token } = await startFlow(h, 'lou');
    for (const url of [`/api/recovery/flow?token=${encodeURIComponent(token)}`, `/api/recovery/flow?flowToken=${encodeURIComponent(token)}`]) {
      const response = await record(call(h, 'GET', url));
      expect([400, 401]).toContain(response.statusCode);
    }
    expect((await record(call(h, 'GET', '/api/recovery/flow'))).statusCode).toBe(401);
    const ok = await record(call(h, 'GET', '/api/recovery/flow', undefined, { token }));
    expect(ok.statusCode).toBe(200);
    for (const response of traffic) expect(response.headers['referrer-policy']).toBe('no-referrer');
  });

  it('TOK-12 no response of a whole recovery echoes a code, the TOTP seed or a recovery code', async () => {
    nextTotpStep(h.clock);
    const started = await record(call(h, 'POST', '/api/recovery/flows', { identifier: lou.email }));
    let token = json<{ flowToken: string }>(started).flowToken;
    await record(call(h, 'POST', '/api/recovery/flow/method', { method: 'sms_code' }, { token }));
    await record(call(h, 'POST', '/api/recovery/flow/answer', { code: '000000' }, { token }));
    token = json<FlowBody>(await record(call(h, 'POST', '/api/recovery/flow/answer', { code: await latestCode(h, phone) }, { token }))).flowToken as string;
    await record(call(h, 'POST', '/api/recovery/flow/method', { method: 'recovery_code' }, { token }));
    const granted = await record(call(h, 'POST', '/api/recovery/flow/answer', { code: enrolled.recoveryCodes[0] }, { token }));
    expect(granted.statusCode).toBe(200);
    await record(call(h, 'GET', '/api/recovery/flow', undefined, { token: json<FlowBody>(granted).flowToken as string }));
    const session = await signInWithGate(h, lou, enrolled);
    await record(call(h, 'GET', '/api/me/methods', undefined, { token: session }));
    await passEmailGate(h, (await startFlow(h, 'lou')).token, enrolled);

    const codes = [...(await codesTo(h, enrolled.altEmail)), ...(await codesTo(h, phone))];
    const secrets = [enrolled.totpSeed, ...enrolled.recoveryCodes, ...enrolled.recoveryCodes.map((code) => code.replaceAll('-', ''))];
    expect(codes.length).toBeGreaterThan(5);
    for (const response of traffic) {
      const text = `${JSON.stringify(response.headers)}\n${response.body}`;
      for (const secret of secrets) expect(text).not.toContain(secret);
      // A code counts only as a whole number, not as a run of digits inside a random id.
      for (const code of codes) expect(text).not.toMatch(new RegExp(`(?<![0-9A-Za-z])${code}(?![0-9A-Za-z])`));
    }
  });
});

/*
 * TOK-11. Every header a proxy or an attacker could use to suggest "the" host, sent on every request
 * that leads to a message, and some requests also sent in absolute form (`POST http://evil.test/...`).
 */
const HOSTILE: Readonly<Record<string, string>> = {
  host: 'evil.test',
  'x-forwarded-host': 'evil.test',
  'x-forwarded-proto': 'http',
  'x-forwarded-port': '80',
  'x-forwarded-server': 'evil.test',
  'x-host': 'evil.test',
  forwarded: 'for=203.0.113.9;host=evil.test;proto=http',
  'x-original-url': 'http://evil.test/reset',
  'x-rewrite-url': 'http://evil.test/reset',
  origin: 'http://evil.test',
  referer: 'http://evil.test/',
};
const absolute = (path: string): string => `http://evil.test${path}`;
/** Anything that looks like a link: a scheme with `//`, or a protocol-relative `//host`. */
const LINKS = /[a-z][a-z0-9+.-]*:\/\/[^\s<>"')]+|(?<![:\w])\/\/[^\s<>"')]+/gi;
const TOKEN = '[A-Za-z0-9_-]{43}';
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const MANAGER = 'kit.manager@corp.test';

describe.each(ENGINES)('TOK-11 links in messages on %s', (engine) => {
  const variants = [
    {
      name: 'portal.publicUrl and helpdesk.approvalBaseUrl configured',
      env: { LATCHKEY_PORTAL__PUBLIC_URL: 'https://reset.corp.test', LATCHKEY_HELPDESK__APPROVAL_BASE_URL: 'https://approvals.corp.test' },
      origins: () => ({ dispute: 'https://reset.corp.test', approval: 'https://approvals.corp.test' }),
    },
    {
      name: 'no base URL configured (falls back to the configured listen address)',
      env: {},
      origins: (h: Harness) => {
        const listen = `http://${h.latchkey.config.host}:${h.latchkey.config.port}`;
        return { dispute: listen, approval: listen };
      },
    },
  ] as const;

  it.each(variants)('TOK-11 builds every link from configuration, never from Host or forwarding headers: $name', async (variant) => {
    const h = await startHarness({
      engine,
      policy: [roomyLimits],
      env: { ...variant.env, LATCHKEY_HELPDESK__MANAGER_EMAILS__KIT: MANAGER },
    });
    try {
      const { dispute, approval } = variant.origins(h);
      const kit = await createPerson(h, 'kit');
      const enrolled = await enrolEmailAndTotp(h, kit);
      const phone = '+447700900555';
      const before = (await allMessages(h)).length;

      // A sign-in (password, then the email gate) whose every request carries the hostile headers.
      const signIn = await call(h, 'POST', absolute('/api/me/sign-in'), { username: kit.username, password: kit.password }, { headers: HOSTILE });
      const gate = json<{ flowToken: string }>(signIn).flowToken;
      expect((await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: gate, headers: HOSTILE })).statusCode).toBe(200);
      const opened = await call(h, 'POST', '/api/recovery/flow/answer', { code: await latestCode(h, enrolled.altEmail) }, { token: gate, headers: HOSTILE });
      const session = json<{ sessionToken: string }>(opened).sessionToken;
      expect(session).toEqual(expect.any(String));

      // A method change: a phone added and verified (announced on the earlier channels), then removed
      // (announced to the removed phone too, by text): each notice carries a "this wasn't me" link.
      const added = await call(h, 'POST', absolute('/api/me/methods'), { method: 'sms_code', phone }, { token: session, headers: HOSTILE });
      expect(added.statusCode, added.body).toBe(201);
      const phoneId = json<{ enrollment: { id: string } }>(added).enrollment.id;
      const verified = await call(h, 'POST', `/api/me/methods/${phoneId}/verify`, { code: await latestCode(h, phone) }, { token: session, headers: HOSTILE });
      expect(verified.statusCode, verified.body).toBe(200);
      const removed = await call(h, 'DELETE', absolute(`/api/me/methods/${phoneId}`), undefined, { token: session, headers: HOSTILE });
      expect(removed.statusCode, removed.body).toBeLessThan(300);

      // The helpdesk path: the manager's approval link.
      const agent = await helpdeskToken(h);
      const asked = await call(h, 'POST', absolute('/api/admin/helpdesk/verifications'), { accountId: kit.accountId, method: 'manager_approval' }, { token: agent.token, headers: HOSTILE });
      expect(asked.statusCode, asked.body).toBe(200);

      // A reset: codes by mail and text.
      const started = await call(h, 'POST', absolute('/api/recovery/flows'), { identifier: kit.username }, { headers: HOSTILE });
      const flow = json<{ flowToken: string }>(started).flowToken;
      expect((await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: flow, headers: HOSTILE })).statusCode).toBe(200);

      const messages = await allMessages(h);
      const linksOf = (message: OutboundMessage): string[] => [...`${message.subject}\n${message.text}`.matchAll(LINKS)].map((match) => match[0]);
      const allowed = [new RegExp(`^${escape(dispute)}/this-wasnt-me/${TOKEN}$`), new RegExp(`^${escape(approval)}/api/helpdesk/approvals/${TOKEN}$`)];
      for (const message of messages) {
        expect(`${message.subject}\n${message.text}`).not.toMatch(/evil\.test/i);
        for (const link of linksOf(message)) expect(allowed.some((pattern) => pattern.test(link)), `${message.purpose} to ${message.to}: ${link}`).toBe(true);
      }

      // The links really were produced by the requests above (a test that sees no link proves nothing).
      const sent = messages.slice(before);
      const disputeLinks = sent.flatMap(linksOf).filter((link) => allowed[0]?.test(link));
      const approvalLinks = sent.flatMap(linksOf).filter((link) => allowed[1]?.test(link));
      expect(sent.filter((message) => message.channel === 'email' && linksOf(message).some((link) => allowed[0]?.test(link))).map((message) => message.to)).toEqual(expect.arrayContaining([kit.email, enrolled.altEmail]));
      expect(sent.filter((message) => message.channel === 'sms' && message.to === phone && linksOf(message).some((link) => allowed[0]?.test(link)))).not.toHaveLength(0);
      expect(disputeLinks.length).toBeGreaterThanOrEqual(3);
      expect(sent.filter((message) => message.to === MANAGER).flatMap(linksOf)).toEqual(approvalLinks);
      expect(approvalLinks).toHaveLength(1);
      expect(sent.filter((message) => message.to === enrolled.altEmail && message.purpose === 'challenge_code').length).toBeGreaterThanOrEqual(2);
    } finally {
      await h.close();
    }
  });
});
