import { describe, expect, it } from 'vitest';
import { PermanentDeliveryError } from '../../src/core/ports/message-channel.ts';
import {
  createChannels,
  parseChannelsConfig,
  smsConfigSchema,
  smtpConfigSchema,
} from '../../src/adapters/channel/create-channels.ts';
import { createDevOutboxChannel } from '../../src/adapters/channel/dev-outbox/dev-outbox-channel.ts';

const ACCOUNT_SID = 'AC0123456789abcdef0123456789abcdef';

describe('dev outbox channel', () => {
  it('accepts a message without sending it anywhere and has no provider id', async () => {
    const channel = createDevOutboxChannel('email');

    await expect(
      channel.send({ channel: 'email', to: 'a@b.test', subject: 's', text: 't', purpose: 'challenge_code' }),
    ).resolves.toEqual({ providerMessageId: null });
    expect(channel).toMatchObject({ kind: 'email', name: 'dev-outbox' });
  });

  it('refuses a message meant for the other channel, which is a wiring bug', async () => {
    const channel = createDevOutboxChannel('sms');

    await expect(
      channel.send({ channel: 'email', to: 'a@b.test', subject: 's', text: 't', purpose: 'challenge_code' }),
    ).rejects.toBeInstanceOf(PermanentDeliveryError);
  });
});

describe('createChannels', () => {
  it('falls back to the dev outbox for every channel that is not configured', () => {
    const channels = createChannels({});

    expect(channels.email).toMatchObject({ kind: 'email', name: 'dev-outbox' });
    expect(channels.sms).toMatchObject({ kind: 'sms', name: 'dev-outbox' });
  });

  it('builds the SMTP and Twilio channels from parsed config', async () => {
    const channels = createChannels(
      parseChannelsConfig({
        smtp: { host: '127.0.0.1', from: 'no-reply@latchkey.test' },
        sms: { provider: 'twilio', accountSid: ACCOUNT_SID, authToken: 't', from: '+15005550006' },
      }),
    );

    expect(channels.email).toMatchObject({ kind: 'email', name: 'smtp' });
    expect(channels.sms).toMatchObject({ kind: 'sms', name: 'twilio' });
    await channels.email.close?.();
  });

  it('builds the signed webhook channel when the SMS provider is webhook', () => {
    const channels = createChannels({
      sms: { provider: 'webhook', url: 'https://sms.example.test/hook', hmacSecret: 'x'.repeat(32) },
    });

    expect(channels.sms).toMatchObject({ kind: 'sms', name: 'sms-webhook' });
    expect(channels.email.name).toBe('dev-outbox');
  });
});

describe('channel config schemas', () => {
  it('applies safe SMTP defaults: port 587, STARTTLS required, certificate verified', () => {
    const parsed = smtpConfigSchema.parse({
      host: 'smtp.example.test',
      from: 'Latchkey <no-reply@example.test>',
      tls: {},
    });

    expect(parsed).toEqual({
      host: 'smtp.example.test',
      port: 587,
      secure: false,
      requireTls: true,
      from: 'Latchkey <no-reply@example.test>',
      tls: { rejectUnauthorized: true },
      timeoutMs: 15_000,
    });
  });

  it('rejects an SMTP from address with a line break, a password without a user, and unknown keys', () => {
    expect(smtpConfigSchema.safeParse({ host: 'h', from: 'a@b.test\r\nBcc: x@y.test' }).success).toBe(false);
    expect(smtpConfigSchema.safeParse({ host: 'h', from: 'a@b.test', password: 'p' }).success).toBe(false);
    expect(smtpConfigSchema.safeParse({ host: 'h', from: 'a@b.test', hots: 'typo' }).success).toBe(false);
  });

  it('rejects a webhook secret shorter than 32 characters and a non-http URL', () => {
    expect(smsConfigSchema.safeParse({ provider: 'webhook', url: 'https://x.test/h', hmacSecret: 'short' }).success).toBe(false);
    expect(
      smsConfigSchema.safeParse({ provider: 'webhook', url: 'file:///etc/passwd', hmacSecret: 'x'.repeat(32) }).success,
    ).toBe(false);
  });

  it('requires exactly one of from and messagingServiceSid for Twilio and defaults the API origin', () => {
    const base = { provider: 'twilio', accountSid: ACCOUNT_SID, authToken: 't' };

    expect(smsConfigSchema.safeParse(base).success).toBe(false);
    expect(
      smsConfigSchema.safeParse({ ...base, from: '+15005550006', messagingServiceSid: `MG${'0'.repeat(32)}` }).success,
    ).toBe(false);
    expect(smsConfigSchema.parse({ ...base, from: 'Latchkey' })).toMatchObject({
      baseUrl: 'https://api.twilio.com',
      timeoutMs: 10_000,
    });
  });

  it('describes every SMTP setting for the generated config reference', () => {
    for (const [key, field] of Object.entries(smtpConfigSchema.shape)) {
      expect(field.description, key).toBeTruthy();
    }
  });
});
