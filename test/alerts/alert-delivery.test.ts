import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAccountId } from '../../src/core/account/ids.ts';
import type { Finding } from '../../src/core/monitoring/finding.ts';
import type { AlertDeliveryRecord } from '../../src/core/ports/store.ts';
import { retryDelayMs } from '../../src/server/workers/outbox-worker.ts';
import { auditEvents, createPerson, startHarness, type Harness, type Person } from '../support/harness.ts';
import { startRsyslog, type Rsyslog } from '../support/rsyslog.ts';
import { startReceiver, type HttpReceiver, type RecordedRequest, type Reply } from '../channel/http-receiver.ts';
import { startSmtpSink, type SmtpSink } from '../worker/smtp-sink.ts';

/*
 * Alert notifications delivered to real components on loopback: a real SMTP server (through the
 * outbox and Latchkey's SMTP channel), webhook receivers that verify the HMAC signature over the
 * exact bytes they received, and a real rsyslogd over TLS. Every server is started once for the
 * file, on its own free port and temp directory, and stopped at the end.
 */

const SOC_SECRET = 'soc-webhook-secret-0123456789abcdef-xyz';
const CHAT_SECRET = 'chat-webhook-secret-0123456789abcdef-xyz';
const SIGNATURE_TOLERANCE_SECONDS = 300;
const PHONE = '+447700900123';

/**
 * What a receiver does with `X-Latchkey-Signature: t=<unix>,v1=<hex>`: recompute HMAC-SHA256 over
 * `<t>.<raw body bytes>` with the shared secret, compare in constant time, and refuse stale stamps.
 * Written here from the documented scheme, not imported from Latchkey.
 */
function verifySignature(secret: string, header: string | string[] | undefined, body: Buffer, nowSeconds: number): boolean {
  if (typeof header !== 'string') return false;
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!match?.[1] || !match[2]) return false;
  const timestamp = Number(match[1]);
  if (Math.abs(nowSeconds - timestamp) > SIGNATURE_TOLERANCE_SECONDS) return false;
  const expected = createHmac('sha256', secret).update(Buffer.concat([Buffer.from(`${timestamp}.`), body])).digest();
  return timingSafeEqual(expected, Buffer.from(match[2], 'hex'));
}

describe('alert delivery to real SMTP, webhook and syslog receivers', () => {
  let h: Harness;
  let alice: Person;
  let smtp: SmtpSink;
  let soc: HttpReceiver;
  let chat: HttpReceiver;
  let syslog: Rsyslog;
  let socReply: (request: RecordedRequest) => Reply = () => ({ status: 204 });

  beforeAll(async () => {
    [smtp, soc, chat, syslog] = await Promise.all([
      startSmtpSink(),
      startReceiver((request) => socReply(request)),
      startReceiver(() => ({ status: 200, text: 'ok' })),
      startRsyslog({ tls: true }),
    ]);
    h = await startHarness({
      engine: 'sqlite',
      env: {
        LATCHKEY_SMTP__HOST: '127.0.0.1',
        LATCHKEY_SMTP__PORT: String(smtp.port),
        LATCHKEY_SMTP__FROM: 'Latchkey <alerts@latchkey.test>',
        LATCHKEY_SMTP__REQUIRE_TLS: 'false',
        LATCHKEY_SMTP__TIMEOUT_MS: '3000',
        LATCHKEY_ALERTS__EMAIL__RECIPIENTS: 'soc@corp.test, oncall@corp.test',
        LATCHKEY_ALERTS__WEBHOOKS__SOC__URL: `${soc.url}/hooks/latchkey`,
        LATCHKEY_ALERTS__WEBHOOKS__SOC__SECRET: SOC_SECRET,
        LATCHKEY_ALERTS__WEBHOOKS__SOC__TIMEOUT_MS: '1000',
        LATCHKEY_ALERTS__WEBHOOKS__CHAT__URL: `${chat.url}/services/T000/B000/XXXX`,
        LATCHKEY_ALERTS__WEBHOOKS__CHAT__SECRET: CHAT_SECRET,
        LATCHKEY_ALERTS__WEBHOOKS__CHAT__FORMAT: 'slack',
        LATCHKEY_ALERTS__SYSLOG__HOST: syslog.host,
        LATCHKEY_ALERTS__SYSLOG__PORT: String(syslog.port),
        LATCHKEY_ALERTS__SYSLOG__TLS: 'true',
        LATCHKEY_ALERTS__SYSLOG__CA_FILE: syslog.caFile ?? '',
        LATCHKEY_ALERTS__SYSLOG__TIMEOUT_MS: '3000',
      },
    });
    alice = await createPerson(h, 'alice');
  }, 30_000);
  afterAll(async () => {
    await h?.close();
    await Promise.all([smtp?.stop(), soc?.stop(), chat?.stop(), syslog?.stop()]);
  });

  const finding = (dedupeKey: string, overrides: Partial<Finding> = {}): Finding => ({
    detectorId: 'recent_method_change',
    severity: 'high',
    dedupeKey,
    summary: `Reset by SMS to ${PHONE} 4 minutes after the phone number changed`,
    subject: asAccountId(alice.accountId),
    ip: '203.0.113.9',
    department: 'Engineering',
    observed: { minutes_since_change: 4, new_phone: PHONE },
    baseline: 'policy: recoveries within 60 minutes of a method change are flagged',
    eventIds: ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222'],
    at: h.clock.now(),
    ...overrides,
  });
  const deliveriesOf = async (alertId: string): Promise<AlertDeliveryRecord[]> => h.latchkey.store.alerts.listDeliveries({ alertId, limit: 100 });
  const alertIdOf = async (dedupeKey: string): Promise<string> => {
    const alert = await h.latchkey.store.alerts.findActive(dedupeKey);
    if (!alert) throw new Error(`no alert for ${dedupeKey}`);
    return alert.id;
  };

  it('delivers one notification to every target, signed, explained, and without the full phone number', async () => {
    const socBefore = soc.requests.length;
    await h.latchkey.alerts.raise(finding('recent_method_change:alice'));
    const alertId = await alertIdOf('recent_method_change:alice');
    await h.latchkey.worker.drain();
    expect(await h.latchkey.alertWorker.drain()).toBe(3);

    // E-mail: through the outbox and the SMTP channel to a real SMTP server, one message per recipient.
    const mails = smtp.received.filter((received) => received.mail.text?.includes(alertId));
    expect(mails.flatMap((received) => received.envelope.rcptTo).sort()).toEqual(['oncall@corp.test', 'soc@corp.test']);
    expect(mails[0]?.mail.subject).toBe('[Latchkey] high: Reset by SMS to +44•••••••23 4 minutes after the phone number changed');
    expect(mails[0]?.mail.text).toContain('Baseline: policy: recoveries within 60 minutes of a method change are flagged');

    // JSON webhook: the signature verifies over the exact bytes received; the body is the notification.
    const request = soc.requests[socBefore];
    expect(request?.path).toBe('/hooks/latchkey');
    expect(request?.headers['content-type']).toBe('application/json');
    const now = Math.floor(Date.now() / 1000);
    expect(verifySignature(SOC_SECRET, request?.headers['x-latchkey-signature'], request?.body ?? Buffer.alloc(0), now)).toBe(true);
    const body = JSON.parse(request?.body.toString('utf8') ?? '{}') as Record<string, unknown>;
    expect(body).toMatchObject({ version: 1, kind: 'alert', reason: 'raised', deliveryId: request?.headers['x-latchkey-delivery'], alert: { id: alertId, severity: 'high', subject: alice.accountId, occurrences: 1 } });
    expect(request?.headers['x-latchkey-event']).toBe('alert');

    // A receiver refuses anything else: a tampered body, the wrong secret, a replay from long ago.
    const tampered = Buffer.from((request?.body.toString('utf8') ?? '').replace('"severity":"high"', '"severity":"low"'));
    expect(tampered.equals(request?.body ?? Buffer.alloc(0))).toBe(false);
    expect(verifySignature(SOC_SECRET, request?.headers['x-latchkey-signature'], tampered, now)).toBe(false);
    expect(verifySignature(CHAT_SECRET, request?.headers['x-latchkey-signature'], request?.body ?? Buffer.alloc(0), now)).toBe(false);
    expect(verifySignature(SOC_SECRET, request?.headers['x-latchkey-signature'], request?.body ?? Buffer.alloc(0), now + 3600)).toBe(false);

    // Slack-compatible webhook: `text` and `blocks`, signed the same way with its own secret.
    const slack = chat.requests.at(-1);
    expect(slack?.path).toBe('/services/T000/B000/XXXX');
    expect(verifySignature(CHAT_SECRET, slack?.headers['x-latchkey-signature'], slack?.body ?? Buffer.alloc(0), now)).toBe(true);
    const slackBody = JSON.parse(slack?.body.toString('utf8') ?? '{}') as { text: string; blocks: { type: string }[] };
    expect(slackBody.text).toBe('[Latchkey] high: Reset by SMS to +44•••••••23 4 minutes after the phone number changed');
    expect(slackBody.blocks.map((block) => block.type)).toEqual(['header', 'section', 'context']);

    // Syslog: RFC 5424 over TLS to rsyslogd, the alert's facts as structured data.
    const [line] = (await syslog.waitFor((messages) => messages.some((message) => message.includes(alertId)), 5000)).filter((message) => message.includes(alertId));
    expect(line).toMatch(/^<83>1 \S+ \S+ latchkey - alert \[alert@32473 id="[0-9a-f-]{36}" /);
    expect(line).toContain('severity="high"');
    expect(line).toContain(`subject="${alice.accountId}"`);
    expect(line).toContain('[Latchkey] high: Reset by SMS to +44•••••••23');

    // Nothing anywhere carries the full number.
    const everything = [...mails.map((received) => `${received.mail.subject ?? ''}${received.mail.text ?? ''}`), request?.body.toString('utf8'), slack?.body.toString('utf8'), line].join('\n');
    expect(everything).not.toContain('7700900123');

    expect((await deliveriesOf(alertId)).map((delivery) => [delivery.target, delivery.status]).sort()).toEqual([
      ['syslog', 'delivered'],
      ['webhook:chat', 'delivered'],
      ['webhook:soc', 'delivered'],
    ]);
    const delivered = (await auditEvents(h, { types: ['alert.delivered'] })).filter((event) => event.data['alert_id'] === alertId);
    expect(delivered.map((event) => event.data['target']).sort()).toEqual(['syslog', 'webhook:chat', 'webhook:soc']);
  });

  it('retries a failing webhook with backoff, sends the same delivery id and body again, and audits each failure', async () => {
    socReply = () => ({ status: 503, text: 'down for maintenance' });
    await h.latchkey.alerts.raise(finding('recent_method_change:retry'));
    const alertId = await alertIdOf('recent_method_change:retry');
    const first = soc.requests.length;
    await h.latchkey.alertWorker.drain();
    const [failed] = (await deliveriesOf(alertId)).filter((delivery) => delivery.target === 'webhook:soc');
    expect(failed).toMatchObject({ status: 'pending', attempts: 1, lastError: 'webhook:soc: HTTP 503' });
    expect(failed?.lastError).not.toContain(soc.url.replace('http://', ''));

    // Not due again before the backoff has passed.
    socReply = () => ({ status: 200, text: 'ok' });
    await h.latchkey.alertWorker.drain();
    expect(soc.requests.length).toBe(first + 1);
    h.clock.advance(retryDelayMs(1) / 1000);
    await h.latchkey.alertWorker.drain();
    expect(soc.requests.length).toBe(first + 2);
    const [attempt1, attempt2] = soc.requests.slice(first);
    expect(attempt2?.headers['x-latchkey-delivery']).toBe(attempt1?.headers['x-latchkey-delivery']);
    expect(attempt2?.body.equals(attempt1?.body ?? Buffer.alloc(0))).toBe(true);
    expect((await deliveriesOf(alertId)).find((delivery) => delivery.target === 'webhook:soc')).toMatchObject({ status: 'delivered', attempts: 2 });

    const failures = (await auditEvents(h, { types: ['alert.delivery_failed'] })).filter((event) => event.data['alert_id'] === alertId);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ outcome: 'failure', reason: 'delivery.retrying', actor: { kind: 'system', id: 'alert-delivery-worker' }, data: { target: 'webhook:soc', permanent: false, error: 'webhook:soc: HTTP 503' } });
  });

  it('gives up at once on a webhook that refuses the request (4xx), and audits it as abandoned', async () => {
    socReply = () => ({ status: 400, json: { error: 'bad payload' } });
    await h.latchkey.alerts.raise(finding('recent_method_change:refused'));
    const alertId = await alertIdOf('recent_method_change:refused');
    await h.latchkey.alertWorker.drain();
    expect((await deliveriesOf(alertId)).find((delivery) => delivery.target === 'webhook:soc')).toMatchObject({ status: 'dead', attempts: 1 });
    const failure = (await auditEvents(h, { types: ['alert.delivery_failed'] })).find((event) => event.data['alert_id'] === alertId);
    expect(failure).toMatchObject({ reason: 'delivery.abandoned', data: { permanent: true } });
    socReply = () => ({ status: 204 });
  });

  it('never blocks detection on a hanging webhook: the raise returns at once and the delivery times out and retries', async () => {
    socReply = () => 'hang';
    await h.latchkey.alerts.raise(finding('recent_method_change:slow-1'));
    let drained = false;
    const draining = h.latchkey.alertWorker.drain().then(() => {
      drained = true;
    });
    await h.latchkey.alerts.raise(finding('recent_method_change:slow-2'));
    // The raise committed while the delivery was still waiting on the receiver (it times out after 1 s).
    expect(drained).toBe(false);
    expect(await h.latchkey.store.alerts.findActive('recent_method_change:slow-2')).not.toBeNull();
    await draining;
    const alertId = await alertIdOf('recent_method_change:slow-1');
    expect((await deliveriesOf(alertId)).find((delivery) => delivery.target === 'webhook:soc')).toMatchObject({ status: 'pending', lastError: 'webhook:soc: timeout' });
    socReply = () => ({ status: 204 });
  });

  it('delivers to syslog once the collector is back after being down', async () => {
    await syslog.pause();
    try {
      await h.latchkey.alerts.raise(finding('recent_method_change:syslog-down'));
      const alertId = await alertIdOf('recent_method_change:syslog-down');
      await h.latchkey.alertWorker.drain();
      expect((await deliveriesOf(alertId)).find((delivery) => delivery.target === 'syslog')).toMatchObject({ status: 'pending', attempts: 1 });
      await syslog.resume();
      h.clock.advance(retryDelayMs(1) / 1000);
      await h.latchkey.alertWorker.drain();
      expect((await deliveriesOf(alertId)).find((delivery) => delivery.target === 'syslog')).toMatchObject({ status: 'delivered', attempts: 2 });
      await syslog.waitFor((messages) => messages.some((message) => message.includes(alertId)), 5000);
    } finally {
      await syslog.resume().catch(() => undefined);
    }
  });
});
