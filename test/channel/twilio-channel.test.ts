import { afterEach, describe, expect, it } from 'vitest';
import { PermanentDeliveryError, type OutboundMessage } from '../../src/core/ports/message-channel.ts';
import { createTwilioChannel, type TwilioConfig } from '../../src/adapters/channel/sms-http/twilio-channel.ts';
import { startReceiver, unusedUrl, type RecordedRequest, type Reply } from './http-receiver.ts';

const ACCOUNT_SID = 'AC0123456789abcdef0123456789abcdef';
const AUTH_TOKEN = 'tw-auth-token-for-tests';
const SERVICE_SID = 'MGfedcba9876543210fedcba9876543210';
const MESSAGES_PATH = `/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const created: Reply = { status: 201, json: { sid: 'SM00000000000000000000000000000001', status: 'queued' } };

async function fakeTwilio(reply: (request: RecordedRequest) => Reply = () => created) {
  const started = await startReceiver(reply);
  cleanups.push(() => started.stop());
  return started;
}

const message = (overrides: Partial<OutboundMessage> = {}): OutboundMessage => ({
  channel: 'sms',
  to: '+447700900123',
  subject: 'Subject lines are not part of an SMS',
  text: 'Latchkey code: 482916 & more = ok?',
  purpose: 'challenge_code',
  ...overrides,
});

const config = (baseUrl: string, overrides: Partial<TwilioConfig> = {}): TwilioConfig => ({
  accountSid: ACCOUNT_SID,
  authToken: AUTH_TOKEN,
  from: '+15005550006',
  baseUrl,
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

describe('Twilio channel', () => {
  it('POSTs a form with To, From and Body to the Messages resource with Basic auth and returns the sid', async () => {
    const twilio = await fakeTwilio();
    const channel = createTwilioChannel(config(twilio.url));

    const result = await channel.send(message());

    expect(result).toEqual({ providerMessageId: 'SM00000000000000000000000000000001' });
    expect(twilio.requests).toHaveLength(1);
    const request = twilio.requests[0];
    if (request === undefined) throw new Error('no request');
    expect(request.method).toBe('POST');
    expect(request.path).toBe(MESSAGES_PATH);
    expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const expectedAuth = `Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}`;
    expect(request.headers.authorization).toBe(expectedAuth);
    expect(request.body.toString('utf8')).toBe(
      'To=%2B447700900123&From=%2B15005550006&Body=Latchkey+code%3A+482916+%26+more+%3D+ok%3F',
    );
    const fields = new URLSearchParams(request.body.toString('utf8'));
    expect([...fields.entries()]).toEqual([
      ['To', '+447700900123'],
      ['From', '+15005550006'],
      ['Body', 'Latchkey code: 482916 & more = ok?'],
    ]);
  });

  it('sends MessagingServiceSid instead of From when a messaging service is configured', async () => {
    const twilio = await fakeTwilio();
    const channel = createTwilioChannel(config(twilio.url, { from: undefined, messagingServiceSid: SERVICE_SID }));

    await channel.send(message());

    const fields = new URLSearchParams(twilio.requests[0]?.body.toString('utf8'));
    expect([...fields.keys()]).toEqual(['To', 'MessagingServiceSid', 'Body']);
    expect(fields.get('MessagingServiceSid')).toBe(SERVICE_SID);
  });

  it('keeps a path prefix of the base URL', async () => {
    const twilio = await fakeTwilio();
    const channel = createTwilioChannel(config(`${twilio.url}/proxy/`));

    await channel.send(message());

    expect(twilio.requests[0]?.path).toBe(`/proxy${MESSAGES_PATH}`);
  });

  it('treats a 400 as permanent and keeps only the Twilio error code, not its message that repeats the number', async () => {
    const twilio = await fakeTwilio(() => ({
      status: 400,
      json: { code: 21211, message: "The 'To' number +447700900123 is not a valid phone number.", status: 400 },
    }));
    const channel = createTwilioChannel(config(twilio.url));

    const error = await failureOf(channel.send(message()));

    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toContain('400');
    expect(error.message).toContain('twilio error 21211');
    expect(error.message).not.toContain('447700900123');
    expect(error.message).not.toContain('482916');
  });

  it.each([408, 429, 500, 503])('treats a %i as a retryable failure', async (status) => {
    const twilio = await fakeTwilio(() => ({ status, json: { code: 20429, message: 'Too Many Requests', status } }));
    const channel = createTwilioChannel(config(twilio.url));

    const error = await failureOf(channel.send(message()));

    expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toContain(String(status));
  });

  it('gives up with a retryable timeout error when Twilio never answers', async () => {
    const twilio = await fakeTwilio(() => 'hang');
    const channel = createTwilioChannel(config(twilio.url, { timeoutMs: 150 }));

    const error = await failureOf(channel.send(message()));

    expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toMatch(/150 ms/);
    expect(twilio.requests).toHaveLength(1);
  });

  it('reports an unreachable API as a retryable failure', async () => {
    const channel = createTwilioChannel(config(await unusedUrl(), { timeoutMs: 1_000 }));

    const error = await failureOf(channel.send(message()));

    expect(error).not.toBeInstanceOf(PermanentDeliveryError);
  });

  it.each([
    ['a local number', '07700900123'],
    ['a number with a line break', '+447700900123\n'],
    ['a number with letters', '+44770090012a'],
  ])('refuses %s as permanent without calling Twilio', async (_label, to) => {
    const twilio = await fakeTwilio();
    const channel = createTwilioChannel(config(twilio.url));

    const error = await failureOf(channel.send(message({ to })));

    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).not.toContain('7700900');
    expect(twilio.requests).toHaveLength(0);
  });

  it('refuses a configuration with both or neither of From and MessagingServiceSid', () => {
    expect(() => createTwilioChannel(config('http://127.0.0.1:1', { messagingServiceSid: SERVICE_SID }))).toThrow(
      /exactly one/,
    );
    expect(() => createTwilioChannel(config('http://127.0.0.1:1', { from: undefined }))).toThrow(/exactly one/);
  });

  it('refuses an account SID that is not AC plus 32 hex digits, which keeps the request path fixed', () => {
    expect(() => createTwilioChannel(config('http://127.0.0.1:1', { accountSid: 'AC../../evil' }))).toThrow(/accountSid/);
  });
});
