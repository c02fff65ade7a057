import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { OutboundMessage } from '../../src/core/ports/message-channel.ts';
import type { OutboxRecord } from '../../src/core/ports/store.ts';
import { outboxContext } from '../../src/core/notifications/outbox.ts';
import { retryDelayMs } from '../../src/server/workers/outbox-worker.ts';
import type { OutboxEntry } from '../../src/core/app/admin-queries.ts';
import { ENGINES, auditEvents, call, createPerson, enrolEmailAndTotp, json, signInFresh, startFlow, startHarness, type FlowBody, type Harness } from '../support/harness.ts';
import { startReceiver, type HttpReceiver } from '../channel/http-receiver.ts';
import { startSmtpSink, type SmtpSink } from './smtp-sink.ts';

const HMAC_SECRET = 'outbox-worker-test-secret-0123456789abcdef';
const FROM = 'Latchkey <no-reply@latchkey.test>';
const PHONE = '+15551234567';

interface Rig {
  readonly h: Harness;
  readonly smtp: SmtpSink | null;
  readonly sms: HttpReceiver | null;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  // The harness first (it closes the SMTP pool and stops the worker), then the servers it talked to.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A Latchkey whose channels are configured the way an operator would: through LATCHKEY_* variables. */
async function rig(engine: (typeof ENGINES)[number], channels: { smtp?: boolean; sms?: boolean }, env: Record<string, string> = {}): Promise<Rig> {
  const smtp = channels.smtp ? await startSmtpSink() : null;
  if (smtp) cleanups.push(() => smtp.stop());
  const sms = channels.sms ? await startReceiver(() => ({ status: 202, json: { id: 'gw-0001' } })) : null;
  if (sms) cleanups.push(() => sms.stop());
  const h = await startHarness({
    engine,
    env: {
      ...(smtp
        ? { LATCHKEY_SMTP__HOST: '127.0.0.1', LATCHKEY_SMTP__PORT: String(smtp.port), LATCHKEY_SMTP__FROM: FROM, LATCHKEY_SMTP__REQUIRE_TLS: 'false', LATCHKEY_SMTP__TIMEOUT_MS: '3000' }
        : {}),
      ...(sms ? { LATCHKEY_SMS__PROVIDER: 'webhook', LATCHKEY_SMS__URL: `${sms.url}/gateway/send`, LATCHKEY_SMS__HMAC_SECRET: HMAC_SECRET, LATCHKEY_SMS__TIMEOUT_MS: '3000' } : {}),
      ...env,
    },
  });
  cleanups.push(() => h.close());
  return { h, smtp, sms };
}

/** The text of a received mail; the only change in transit is the line break that ends every MIME body. */
const textOf = (received: { mail: { text?: string | undefined } } | undefined): string | undefined => received?.mail.text?.replace(/\n$/, '');

const decrypt = (h: Harness, record: OutboxRecord): OutboundMessage => JSON.parse(h.latchkey.deps.cipher.decrypt(record.payloadCiphertext as string, outboxContext(record.id))) as OutboundMessage;

async function outboxRow(h: Harness, id: string): Promise<OutboxRecord> {
  const record = await h.latchkey.store.outbox.get(id);
  if (!record) throw new Error(`no outbox row ${id}`);
  return record;
}

/** The one pending message (and its decrypted content) on a channel; fails if there is not exactly one. */
async function onlyPending(h: Harness, channel: 'email' | 'sms'): Promise<{ record: OutboxRecord; message: OutboundMessage }> {
  const pending = (await h.latchkey.store.outbox.list({ status: 'pending', limit: 100 })).filter((record) => record.channel === channel);
  expect(pending).toHaveLength(1);
  const record = pending[0] as OutboxRecord;
  return { record, message: decrypt(h, record) };
}

/** Signs a new person in and starts registering a method that sends a verification code. */
async function registerMethod(h: Harness, username: string, input: { method: 'email_code'; address: string } | { method: 'sms_code'; phone: string }): Promise<{ session: string; enrollmentId: string; accountId: string }> {
  const person = await createPerson(h, username);
  const session = await signInFresh(h, person);
  const response = await call(h, 'POST', '/api/me/methods', input, { token: session });
  expect(response.statusCode).toBe(201);
  return { session, enrollmentId: json<{ enrollment: { id: string } }>(response).enrollment.id, accountId: person.accountId };
}

async function adminOutbox(h: Harness): Promise<OutboxEntry[]> {
  const { token } = await h.latchkey.adminTokens.create({ name: 'outbox-reader', scopes: ['outbox:read'] }, { kind: 'cli', id: 'test' });
  const response = await call(h, 'GET', '/api/admin/outbox?limit=500', undefined, { token });
  expect(response.statusCode).toBe(200);
  return json<{ messages: OutboxEntry[] }>(response).messages;
}

describe.each(ENGINES)('outbox worker on %s', (engine) => {
  describe('through a real SMTP relay', () => {
    it('delivers a recovery code to the address of record exactly as queued, scrubs the stored copy and records message.delivered', async () => {
      const { h, smtp } = await rig(engine, { smtp: true });
      if (!smtp) throw new Error('no SMTP sink');
      const alice = await createPerson(h, 'alice');
      const enrolled = await enrolEmailAndTotp(h, alice);
      await h.latchkey.worker.drain();
      smtp.received.splice(0);

      const started = await startFlow(h, alice.email);
      expect((await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: started.token })).statusCode).toBe(200);
      const { record, message } = await onlyPending(h, 'email');
      expect(message).toMatchObject({ channel: 'email', to: enrolled.altEmail, subject: 'Latchkey password reset code', purpose: 'challenge_code' });
      // A real channel's message is not readable through the admin API, not even before it is sent.
      expect((await adminOutbox(h)).find((entry) => entry.id === record.id)).toMatchObject({ status: 'pending', to: null, subject: null, text: null });

      expect(await h.latchkey.worker.drain()).toBe(1);

      expect(smtp.received).toHaveLength(1);
      const [{ mail, envelope }] = smtp.received as [(typeof smtp.received)[number]];
      expect(envelope).toEqual({ mailFrom: 'no-reply@latchkey.test', rcptTo: [enrolled.altEmail] });
      expect(mail.to).toMatchObject({ value: [{ address: enrolled.altEmail }] });
      expect(mail.from?.value).toEqual([{ address: 'no-reply@latchkey.test', name: 'Latchkey' }]);
      expect(mail.subject).toBe(message.subject);
      expect(textOf(smtp.received[0])).toBe(message.text);
      // The code that arrived by mail is the one the flow accepts.
      const code = /\b(\d{8})\b/.exec(mail.text ?? '')?.[1] ?? '';
      const answered = await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token: started.token });
      expect(answered.statusCode).toBe(200);
      expect(json<FlowBody>(answered).flow.gatesPassed).toBe(1);

      const delivered = await outboxRow(h, record.id);
      expect(delivered).toMatchObject({ status: 'delivered', deliveredVia: 'smtp', payloadCiphertext: null, attempts: 1, leaseUntil: null, lastError: null });
      expect(delivered.deliveredAt).toBeInstanceOf(Date);
      const events = (await auditEvents(h, { types: ['message.delivered'] })).filter((event) => event.data['message_id'] === record.id);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ outcome: 'success', subject: alice.accountId, actor: { kind: 'system', id: 'outbox-worker' }, data: { channel: 'email', via: 'smtp', attempts: 1 } });
      expect((await adminOutbox(h)).find((entry) => entry.id === record.id)).toMatchObject({ status: 'delivered', deliveredVia: 'smtp', text: null, to: null });
      // Neither the audit trail nor the outbox listing ever held the code.
      const everything = JSON.stringify([await auditEvents(h), await h.latchkey.store.outbox.list({ limit: 1000 })]);
      expect(everything).not.toContain(code);
    });

    it('puts a message back in the queue with a retry time when the relay answers 451, and delivers it once the retry is due', async () => {
      const { h, smtp } = await rig(engine, { smtp: true });
      if (!smtp) throw new Error('no SMTP sink');
      await registerMethod(h, 'greta', { method: 'email_code', address: 'greta.home@example.org' });
      const { record, message } = await onlyPending(h, 'email');
      smtp.verdict = 'retry-later';

      const before = h.clock.now().getTime();
      expect(await h.latchkey.worker.drain()).toBe(1);
      const after = h.clock.now().getTime();

      expect(smtp.received).toHaveLength(0);
      const retrying = await outboxRow(h, record.id);
      expect(retrying).toMatchObject({ status: 'pending', attempts: 1, leaseUntil: null, deliveredAt: null });
      expect(retrying.availableAt.getTime()).toBeGreaterThanOrEqual(before + retryDelayMs(1));
      expect(retrying.availableAt.getTime()).toBeLessThanOrEqual(after + retryDelayMs(1));
      expect(retrying.lastError).toContain('451');
      expect(retrying.lastError).not.toContain('greta.home@example.org');
      // The payload stays (encrypted) until a delivery succeeds.
      expect(decrypt(h, retrying)).toEqual(message);
      const failed = (await auditEvents(h, { types: ['message.failed'] })).filter((event) => event.data['message_id'] === record.id);
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ outcome: 'failure', reason: 'delivery.retrying', data: { channel: 'email', via: 'smtp', attempts: 1, permanent: false } });
      expect(JSON.stringify(failed)).not.toContain('greta.home@example.org');

      // Not due yet: nothing is attempted.
      expect(await h.latchkey.worker.drain()).toBe(0);

      smtp.verdict = 'accept';
      h.clock.advance(retryDelayMs(1) / 1000 + 1);
      expect(await h.latchkey.worker.drain()).toBe(1);
      expect(smtp.received).toHaveLength(1);
      expect(textOf(smtp.received[0])).toBe(message.text);
      expect(await outboxRow(h, record.id)).toMatchObject({ status: 'delivered', attempts: 2, payloadCiphertext: null });
    });

    it('marks a message dead when the relay refuses the recipient with 550, and never tries it again', async () => {
      const { h, smtp } = await rig(engine, { smtp: true });
      if (!smtp) throw new Error('no SMTP sink');
      await registerMethod(h, 'hugo', { method: 'email_code', address: 'hugo.home@example.org' });
      const { record } = await onlyPending(h, 'email');
      smtp.verdict = 'refuse';

      expect(await h.latchkey.worker.drain()).toBe(1);

      const dead = await outboxRow(h, record.id);
      expect(dead).toMatchObject({ status: 'dead', attempts: 1, leaseUntil: null, deliveredAt: null });
      expect(dead.lastError).toContain('550');
      expect(dead.lastError).not.toContain('hugo.home@example.org');
      const failed = (await auditEvents(h, { types: ['message.failed'] })).filter((event) => event.data['message_id'] === record.id);
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ outcome: 'failure', reason: 'delivery.abandoned', data: { permanent: true, attempts: 1 } });

      smtp.verdict = 'accept';
      h.clock.advance(86_400);
      expect(await h.latchkey.worker.drain()).toBe(0);
      expect(smtp.received).toHaveLength(0);
    });

    it('gives up after the configured number of attempts when every attempt fails retryably', async () => {
      const { h, smtp } = await rig(engine, { smtp: true }, { LATCHKEY_OUTBOX__MAX_ATTEMPTS: '2' });
      if (!smtp) throw new Error('no SMTP sink');
      await registerMethod(h, 'ines', { method: 'email_code', address: 'ines.home@example.org' });
      const { record } = await onlyPending(h, 'email');
      smtp.verdict = 'retry-later';

      expect(await h.latchkey.worker.drain()).toBe(1);
      expect(await outboxRow(h, record.id)).toMatchObject({ status: 'pending', attempts: 1 });
      h.clock.advance(retryDelayMs(1) / 1000 + 1);
      expect(await h.latchkey.worker.drain()).toBe(1);

      expect(await outboxRow(h, record.id)).toMatchObject({ status: 'dead', attempts: 2 });
      const reasons = (await auditEvents(h, { types: ['message.failed'] })).filter((event) => event.data['message_id'] === record.id).map((event) => [event.reason, event.data['permanent']]);
      expect(reasons).toEqual([
        ['delivery.retrying', false],
        ['delivery.abandoned', false],
      ]);
      h.clock.advance(3_600);
      expect(await h.latchkey.worker.drain()).toBe(0);
    });

    it('delivers a message leased by a worker that crashed before sending, once the lease runs out (at least once)', async () => {
      const { h, smtp } = await rig(engine, { smtp: true });
      if (!smtp) throw new Error('no SMTP sink');
      await registerMethod(h, 'jonas', { method: 'email_code', address: 'jonas.home@example.org' });
      const { record, message } = await onlyPending(h, 'email');

      // Another worker leases the message for a minute, then dies without a word.
      const now = h.clock.now();
      const leased = await h.latchkey.store.outbox.claimDue(now, new Date(now.getTime() + 60_000), 10);
      expect(leased.map((item) => item.id)).toEqual([record.id]);
      expect(await outboxRow(h, record.id)).toMatchObject({ status: 'sending', attempts: 1 });

      // While the lease holds, this worker leaves the message alone.
      expect(await h.latchkey.worker.drain()).toBe(0);
      h.clock.advance(30);
      expect(await h.latchkey.worker.drain()).toBe(0);
      expect(smtp.received).toHaveLength(0);

      h.clock.advance(31);
      expect(await h.latchkey.worker.drain()).toBe(1);

      expect(smtp.received).toHaveLength(1);
      expect(textOf(smtp.received[0])).toBe(message.text);
      expect(await outboxRow(h, record.id)).toMatchObject({ status: 'delivered', attempts: 2, payloadCiphertext: null, leaseUntil: null });
      expect(await h.latchkey.worker.drain()).toBe(0);
      expect(smtp.received).toHaveLength(1);
    });

    it('abandons a message with nothing left to send, sends nothing, and records message.failed', async () => {
      const { h, smtp } = await rig(engine, { smtp: true });
      if (!smtp) throw new Error('no SMTP sink');
      const now = h.clock.now();
      const id = h.latchkey.deps.random.uuid();
      await h.latchkey.store.outbox.enqueue({ id, channel: 'email', purpose: 'challenge_code', accountId: null, payloadCiphertext: null, recipientHint: 'l•••t@example.org', createdAt: now, availableAt: now });

      expect(await h.latchkey.worker.drain()).toBe(1);

      expect(smtp.received).toHaveLength(0);
      expect(await outboxRow(h, id)).toMatchObject({ status: 'dead', lastError: 'payload missing', attempts: 1 });
      const failed = (await auditEvents(h, { types: ['message.failed'] })).filter((event) => event.data['message_id'] === id);
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ outcome: 'failure', reason: 'delivery.abandoned', data: { permanent: true } });
    });

    it('delivers on its own once started, without an explicit drain, and stops with the instance', async () => {
      const { h, smtp } = await rig(engine, { smtp: true }, { LATCHKEY_OUTBOX__POLL_INTERVAL_MS: '20' });
      if (!smtp) throw new Error('no SMTP sink');
      h.latchkey.worker.start();
      await registerMethod(h, 'karla', { method: 'email_code', address: 'karla.home@example.org' });

      await vi.waitFor(() => expect(smtp.received).toHaveLength(1), { timeout: 5_000, interval: 20 });
      expect(smtp.received[0]?.envelope.rcptTo).toEqual(['karla.home@example.org']);
      await h.latchkey.worker.stop();
    });
  });

  describe('through a signed SMS webhook', () => {
    it('posts the exact JSON body with a valid HMAC signature, scrubs the stored copy and records message.delivered', async () => {
      const { h, sms } = await rig(engine, { smtp: true, sms: true });
      if (!sms) throw new Error('no SMS receiver');
      const { session, enrollmentId, accountId } = await registerMethod(h, 'lena', { method: 'sms_code', phone: PHONE });
      const { record, message } = await onlyPending(h, 'sms');
      expect(message).toMatchObject({ channel: 'sms', to: PHONE, purpose: 'enrollment_code' });
      const before = Math.floor(Date.now() / 1000);

      expect(await h.latchkey.worker.drain()).toBe(1);

      expect(sms.requests).toHaveLength(1);
      const [request] = sms.requests as [(typeof sms.requests)[number]];
      expect(request.method).toBe('POST');
      expect(request.path).toBe('/gateway/send');
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.body.toString('utf8')).toBe(JSON.stringify({ to: PHONE, text: message.text, purpose: 'enrollment_code' }));
      const timestamp = String(request.headers['x-latchkey-timestamp']);
      expect(Number(timestamp)).toBeGreaterThanOrEqual(before);
      expect(Number(timestamp)).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
      // The receiver's check, written from the documented scheme: HMAC-SHA256 over "<timestamp>.<raw body>".
      const expected = Buffer.from(`sha256=${createHmac('sha256', HMAC_SECRET).update(Buffer.concat([Buffer.from(`${timestamp}.`), request.body])).digest('hex')}`);
      const signature = Buffer.from(String(request.headers['x-latchkey-signature']));
      expect(signature.length).toBe(expected.length);
      expect(timingSafeEqual(signature, expected)).toBe(true);

      // The code that arrived by SMS verifies the new method.
      const code = /\b(\d{6})\b/.exec(JSON.parse(request.body.toString('utf8')).text as string)?.[1] ?? '';
      const verified = await call(h, 'POST', `/api/me/methods/${enrollmentId}/verify`, { code }, { token: session });
      expect(verified.statusCode).toBe(200);
      expect(json<{ enrollment: { status: string } }>(verified).enrollment.status).toBe('active');

      expect(await outboxRow(h, record.id)).toMatchObject({ status: 'delivered', deliveredVia: 'sms-webhook', payloadCiphertext: null, attempts: 1 });
      const events = (await auditEvents(h, { types: ['message.delivered'] })).filter((event) => event.data['message_id'] === record.id);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ subject: accountId, data: { channel: 'sms', via: 'sms-webhook' } });
      expect(JSON.stringify(await auditEvents(h))).not.toContain(PHONE);
    });
  });

  describe('with no channel configured (the dev outbox)', () => {
    it('marks messages delivered through the dev outbox and keeps their text readable through the admin API', async () => {
      const { h } = await rig(engine, {});
      const email = await registerMethod(h, 'mona', { method: 'email_code', address: 'mona.home@example.org' });
      const sms = await call(h, 'POST', '/api/me/methods', { method: 'sms_code', phone: PHONE }, { token: email.session });
      expect(sms.statusCode).toBe(201);
      const queued = (await h.latchkey.store.outbox.list({ status: 'pending', limit: 100 })).map((record) => ({ record, message: decrypt(h, record) }));
      expect(queued.map(({ record }) => record.channel).sort()).toEqual(['email', 'sms']);

      expect(await h.latchkey.worker.drain()).toBe(2);

      const entries = await adminOutbox(h);
      for (const { record, message } of queued) {
        expect(await outboxRow(h, record.id)).toMatchObject({ status: 'delivered', deliveredVia: 'dev-outbox', attempts: 1 });
        expect((await outboxRow(h, record.id)).payloadCiphertext).not.toBeNull();
        expect(entries.find((entry) => entry.id === record.id)).toMatchObject({ status: 'delivered', deliveredVia: 'dev-outbox', to: message.to, subject: message.subject, text: message.text });
      }
      const delivered = (await auditEvents(h, { types: ['message.delivered'] })).map((event) => event.data['via']);
      expect(delivered).toEqual(['dev-outbox', 'dev-outbox']);
      // The readable code is the real one: it verifies the email method.
      const emailText = queued.find(({ record }) => record.channel === 'email')?.message.text ?? '';
      const code = /\b(\d{8})\b/.exec(emailText)?.[1] ?? '';
      expect((await call(h, 'POST', `/api/me/methods/${email.enrollmentId}/verify`, { code }, { token: email.session })).statusCode).toBe(200);
    });
  });
});
