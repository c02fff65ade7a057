import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, allMessages, call, createPerson, enrolEmailAndTotp, json, latestCode, passTwoGates, signInFresh, startFlow, startHarness, type Harness } from '../support/harness.ts';
import { normalise, outboxSize } from './checks.support.ts';

/*
 * INP-2: message headers and bodies never carry raw request input. Identifiers and addresses with
 * CR/LF are refused or answered generically and queue nothing; usernames with markup or links are
 * refused at creation; and through the real channels (a local SMTP server, a local SMS webhook)
 * every delivered message goes to exactly one stored address with no injected header, and none
 * of the hostile request data appears in it.
 */

const ATTACKER = 'attacker@evil.test';
const HOSTILE = {
  userAgent: '<a href=https://evil.test/login>click</a> evil.test',
  forwardedFor: '6.6.6.6, evil.test',
};
const CRLF_IDENTIFIERS = [
  `alice@corp.test\r\nBcc: ${ATTACKER}`,
  `alice@corp.test\nBcc: ${ATTACKER}`,
  `alice@corp.test\rBcc: ${ATTACKER}`,
  `alice\r\nTo: ${ATTACKER}`,
  `alice@corp.test\u2028Bcc: ${ATTACKER}`,
  `alice@corp.test%0d%0aBcc:%20${ATTACKER}`,
];

interface Received {
  readonly rcptTo: readonly string[];
  readonly raw: string;
}

async function startSmtpSink(): Promise<{ port: number; received: Received[]; stop(): Promise<void> }> {
  const received: Received[] = [];
  const server = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received.push({ rcptTo: session.envelope.rcptTo.map((rcpt) => rcpt.address), raw: Buffer.concat(chunks).toString('utf8') });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return { port: (server.server.address() as AddressInfo).port, received, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

async function startSmsSink(): Promise<{ url: string; bodies: string[]; stop(): Promise<void> }> {
  const bodies: string[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{"id":"m1"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sms`, bodies, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe.each(ENGINES)('header and content injection on %s', (engine) => {
  describe('with the dev outbox', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness({ engine });
      await enrolEmailAndTotp(h, await createPerson(h, 'alice'));
    });
    afterAll(async () => {
      await h.close();
    });

    it('INP-2 answers identifiers carrying CR/LF header injections with the generic reply and queues nothing, whichever method is chosen', async () => {
      const reference = normalise(await call(h, 'POST', '/api/recovery/flows', { identifier: 'ghost@corp.test' }));
      const before = await outboxSize(h);
      for (const identifier of CRLF_IDENTIFIERS) {
        const started = await call(h, 'POST', '/api/recovery/flows', { identifier });
        expect(normalise(started), JSON.stringify(identifier)).toEqual(reference);
        const token = json<{ flowToken: string }>(started).flowToken;
        for (const method of ['email_code', 'sms_code']) expect((await call(h, 'POST', '/api/recovery/flow/method', { method }, { token })).statusCode).toBe(200);
      }
      expect(await outboxSize(h)).toBe(before);
    });

    it('INP-2 refuses an alternate address or a phone with CR/LF at registration and queues nothing for it', async () => {
      const session = await signInFresh(h, await createPerson(h, 'bob'));
      const before = await outboxSize(h);
      for (const address of [`bob@example.org\r\nBcc: ${ATTACKER}`, `bob@example.org\nBcc: ${ATTACKER}`, `bob@example.org\r\n\r\nInjected body`, `bob@example.org\u0000${ATTACKER}`]) {
        const response = await call(h, 'POST', '/api/me/methods', { method: 'email_code', address }, { token: session });
        expect(response.statusCode, JSON.stringify(address)).toBe(422);
        expect(json<{ detail: string }>(response).detail).toMatch(/^address: /);
        expect(response.body).not.toContain(ATTACKER);
      }
      for (const phone of ['+447700900123\r\nBcc: x', '+447700900123\n+447700900999']) {
        const response = await call(h, 'POST', '/api/me/methods', { method: 'sms_code', phone }, { token: session });
        expect(response.statusCode, JSON.stringify(phone)).toBe(422);
        expect(json<{ detail: string }>(response).detail).toMatch(/^phone: /);
      }
      expect(await outboxSize(h)).toBe(before);
    });

    it('INP-2 refuses usernames carrying markup, links, escapes or header breaks at account creation', async () => {
      for (const username of ['<a href=https://evil.test>', '<a_href=https://evil.test>', 'https://evil.test/login', '<script>alert(1)</script>', 'x\r\nBcc:y', 'bob%0d%0aBcc', 'evil.test/x', "o'neil", 'bob+evil']) {
        await expect(h.latchkey.accounts.create({ username, password: 'a long and perfectly fine password' }, { kind: 'cli', id: 'test' }), JSON.stringify(username)).rejects.toMatchObject({ code: 'request.invalid' });
      }
      expect(await h.latchkey.store.builtinAccounts.list({ limit: 100, query: 'evil' })).toEqual([]);
    });
  });

  describe('through the real SMTP and SMS channels', () => {
    let h: Harness;
    let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
    let sms: Awaited<ReturnType<typeof startSmsSink>>;
    const PHONE = '+447700900123';
    let stored: Set<string>;

    beforeAll(async () => {
      smtp = await startSmtpSink();
      sms = await startSmsSink();
      h = await startHarness({
        engine,
        env: {
          LATCHKEY_SMTP__HOST: '127.0.0.1',
          LATCHKEY_SMTP__PORT: String(smtp.port),
          LATCHKEY_SMTP__REQUIRE_TLS: 'false',
          LATCHKEY_SMTP__FROM: 'Latchkey <no-reply@corp.test>',
          LATCHKEY_SMS__PROVIDER: 'webhook',
          LATCHKEY_SMS__URL: sms.url,
          LATCHKEY_SMS__HMAC_SECRET: 'a-test-secret-of-at-least-thirty-two-characters',
        },
      });
      const alice = await createPerson(h, 'alice');
      const enrolled = await enrolEmailAndTotp(h, alice);
      const phone = json<{ enrollment: { id: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'sms_code', phone: PHONE }, { token: enrolled.session }));
      expect((await call(h, 'POST', `/api/me/methods/${phone.enrollment.id}/verify`, { code: await latestCode(h, PHONE) }, { token: enrolled.session })).statusCode).toBe(200);
      stored = new Set([alice.email, enrolled.altEmail, PHONE]);

      // A complete reset driven with hostile request data everywhere a request can carry it.
      const hostile = { headers: { 'user-agent': HOSTILE.userAgent, 'x-forwarded-for': HOSTILE.forwardedFor } };
      for (const identifier of CRLF_IDENTIFIERS) await call(h, 'POST', '/api/recovery/flows', { identifier }, hostile);
      h.clock.advance(30);
      const started = await startFlow(h, 'ALICE@corp.test', 'reset', hostile);
      await call(h, 'POST', '/api/recovery/flow/method', { method: 'sms_code' }, { token: started.token, ...hostile });
      const grant = await passTwoGates(h, started.token, enrolled);
      const password = 'tangerine ladders cross the quiet river';
      expect((await call(h, 'POST', '/api/recovery/flow/password', { password, confirmPassword: password }, { token: grant, ...hostile })).statusCode).toBe(200);
      expect((await allMessages(h)).length).toBeGreaterThan(0);
      expect([h.latchkey.channels.email.name, h.latchkey.channels.sms.name]).toEqual(['smtp', 'sms-webhook']);
      await h.latchkey.worker.drain();
    });
    afterAll(async () => {
      await h.close();
      await smtp.stop();
      await sms.stop();
    });

    it('INP-2 delivers every mail to exactly one stored address, with no injected header and no request data in it', async () => {
      expect(smtp.received.length).toBeGreaterThanOrEqual(4);
      for (const mail of smtp.received) {
        expect(mail.rcptTo).toHaveLength(1);
        expect(stored.has(mail.rcptTo[0] as string), mail.rcptTo[0]).toBe(true);
        const [head = '', ...body] = mail.raw.split(/\r?\n\r?\n/);
        const headerNames = head.split(/\r?\n(?![ \t])/).map((line) => line.slice(0, line.indexOf(':')).toLowerCase());
        expect(headerNames).not.toContain('bcc');
        expect(headerNames).not.toContain('cc');
        expect(headerNames.filter((name) => name === 'to')).toHaveLength(1);
        expect(mail.raw).not.toMatch(/evil\.test|<a |href|6\.6\.6\.6/i);
        expect(body.join('\n')).not.toMatch(/ALICE@corp\.test/);
      }
    });

    it('INP-2 delivers every SMS to the stored number only, with no request data in the text', async () => {
      expect(sms.bodies.length).toBeGreaterThanOrEqual(3);
      for (const raw of sms.bodies) {
        const body = JSON.parse(raw) as { to: string; text: string };
        expect(body.to).toBe(PHONE);
        expect(raw).not.toMatch(/evil\.test|<a |href|6\.6\.6\.6/i);
        expect(body.text).not.toMatch(/[\r\n]/);
      }
      expect(await h.latchkey.store.outbox.list({ limit: 1000, status: 'dead' })).toEqual([]);
      expect(await h.latchkey.store.outbox.list({ limit: 1000, status: 'pending' })).toEqual([]);
    });
  });
});
