import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { PermanentDeliveryError, type OutboundMessage } from '../../src/core/ports/message-channel.ts';
import { createSmsWebhookChannel } from '../../src/adapters/channel/sms-http/sms-webhook-channel.ts';
import { startReceiver, unusedUrl, type RecordedRequest, type Reply } from './http-receiver.ts';

const SECRET = 'test-webhook-secret-0123456789abcdef';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function receiver(reply: (request: RecordedRequest) => Reply = () => ({ status: 202, json: { id: 'gw-123' } })) {
  const started = await startReceiver(reply);
  cleanups.push(() => started.stop());
  return started;
}

const message = (overrides: Partial<OutboundMessage> = {}): OutboundMessage => ({
  channel: 'sms',
  to: '+15551234567',
  subject: 'Subject lines are not part of an SMS',
  text: 'Latchkey code: 482916 — valid 10 min. "Don\'t" share it.',
  purpose: 'challenge_code',
  ...overrides,
});

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(outcome instanceof Error)) throw new Error('expected the send to fail');
  return outcome;
}

describe('SMS webhook channel', () => {
  it('POSTs the documented JSON body to the configured path with a verifiable HMAC-SHA256 signature', async () => {
    const gateway = await receiver();
    const channel = createSmsWebhookChannel({ url: `${gateway.url}/hooks/sms?tenant=a`, hmacSecret: SECRET });
    const before = Math.floor(Date.now() / 1000);

    const result = await channel.send(message());

    expect(result).toEqual({ providerMessageId: 'gw-123' });
    expect(gateway.requests).toHaveLength(1);
    const [request] = gateway.requests;
    if (request === undefined) throw new Error('no request');
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/hooks/sms?tenant=a');
    expect(request.headers['content-type']).toBe('application/json');
    const expectedBody =
      '{"to":"+15551234567","text":"Latchkey code: 482916 — valid 10 min. \\"Don\'t\\" share it.","purpose":"challenge_code"}';
    expect(request.body.equals(Buffer.from(expectedBody, 'utf8'))).toBe(true);

    const timestamp = request.headers['x-latchkey-timestamp'];
    expect(timestamp).toMatch(/^\d+$/);
    expect(Number(timestamp)).toBeGreaterThanOrEqual(before);
    expect(Number(timestamp)).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));

    // The receiver's side of the scheme, written from the documentation rather than the adapter.
    const mac = createHmac('sha256', SECRET);
    mac.update(Buffer.from(`${String(timestamp)}.`, 'ascii'));
    mac.update(request.body);
    const expected = Buffer.from(`sha256=${mac.digest('hex')}`, 'ascii');
    const received = Buffer.from(String(request.headers['x-latchkey-signature']), 'ascii');
    expect(received.length).toBe(expected.length);
    expect(timingSafeEqual(received, expected)).toBe(true);
  });

  it('produces a signature that does not verify under another secret', async () => {
    const gateway = await receiver();
    const channel = createSmsWebhookChannel({ url: gateway.url, hmacSecret: SECRET });

    await channel.send(message());

    const request = gateway.requests[0];
    if (request === undefined) throw new Error('no request');
    const forged = createHmac('sha256', 'another-secret-another-secret-00')
      .update(`${String(request.headers['x-latchkey-timestamp'])}.${request.body.toString('utf8')}`)
      .digest('hex');
    expect(request.headers['x-latchkey-signature']).not.toBe(`sha256=${forged}`);
  });

  it('accepts a 2xx without a JSON id and returns no provider id', async () => {
    const gateway = await receiver(() => ({ status: 204 }));
    const channel = createSmsWebhookChannel({ url: gateway.url, hmacSecret: SECRET });

    await expect(channel.send(message())).resolves.toEqual({ providerMessageId: null });
  });

  it('treats a 400 as a permanent failure whose message shows neither the number nor the text', async () => {
    const gateway = await receiver(() => ({ status: 400, json: { error: 'bad number +15551234567' } }));
    const channel = createSmsWebhookChannel({ url: gateway.url, hmacSecret: SECRET });

    const error = await failureOf(channel.send(message()));

    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toContain('400');
    expect(error.message).toContain('67');
    expect(error.message).not.toContain('5551234567');
    expect(error.message).not.toContain('482916');
  });

  it.each([408, 429, 500, 503])('treats a %i as a retryable failure', async (status) => {
    const gateway = await receiver(() => ({ status, text: 'busy' }));
    const channel = createSmsWebhookChannel({ url: gateway.url, hmacSecret: SECRET });

    const error = await failureOf(channel.send(message()));

    expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toContain(String(status));
    expect(gateway.requests).toHaveLength(1);
  });

  it('does not follow a redirect, so the signed request reaches only the configured endpoint', async () => {
    const elsewhere = await receiver();
    const redirecting = await receiver(() => ({ status: 307, headers: { Location: `${elsewhere.url}/steal` } }));
    const channel = createSmsWebhookChannel({ url: redirecting.url, hmacSecret: SECRET });

    const error = await failureOf(channel.send(message()));

    expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toContain('307');
    expect(redirecting.requests).toHaveLength(1);
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('gives up with a retryable timeout error when the receiver never answers', async () => {
    const gateway = await receiver(() => 'hang');
    const channel = createSmsWebhookChannel({ url: gateway.url, hmacSecret: SECRET, timeoutMs: 150 });

    const started = Date.now();
    const error = await failureOf(channel.send(message()));

    expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toMatch(/150 ms/);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error.message).not.toContain('5551234567');
  });

  it('reports an unreachable receiver as a retryable failure', async () => {
    const channel = createSmsWebhookChannel({ url: await unusedUrl(), hmacSecret: SECRET, timeoutMs: 1_000 });

    const error = await failureOf(channel.send(message()));

    expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toContain('ECONNREFUSED');
  });

  it.each([
    ['a number without the plus', '15551234567'],
    ['a number with spaces', '+1 555 123 4567'],
    ['a number starting with zero', '+05551234567'],
    ['a number that is too short', '+12345'],
    ['a number that is too long', '+1234567890123456'],
    ['a number followed by a second one', '+15551234567,+15557654321'],
    ['an email address', 'alice@example.test'],
  ])('refuses %s as permanent and never calls the receiver', async (_label, to) => {
    const gateway = await receiver();
    const channel = createSmsWebhookChannel({ url: gateway.url, hmacSecret: SECRET });

    const error = await failureOf(channel.send(message({ to })));

    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).not.toContain(to);
    expect(error.message).not.toContain('482916');
    expect(gateway.requests).toHaveLength(0);
  });

  it('refuses to start with a URL that is not http or https', () => {
    expect(() => createSmsWebhookChannel({ url: 'ftp://127.0.0.1/sms', hmacSecret: SECRET })).toThrow(/http or https/);
  });
});
