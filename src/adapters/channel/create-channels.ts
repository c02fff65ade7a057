import { z } from 'zod';
import type { MessageChannel } from '../../core/ports/message-channel.ts';
import { createDevOutboxChannel } from './dev-outbox/dev-outbox-channel.ts';
import { createSmsWebhookChannel, type SmsWebhookConfig } from './sms-http/sms-webhook-channel.ts';
import { createTwilioChannel, type TwilioConfig } from './sms-http/twilio-channel.ts';
import { createSmtpChannel, type SmtpConfig } from './smtp/smtp-channel.ts';

export type { SmtpConfig } from './smtp/smtp-channel.ts';
export type { SmsWebhookConfig } from './sms-http/sms-webhook-channel.ts';
export type { TwilioConfig } from './sms-http/twilio-channel.ts';

/** The SMS provider to use, chosen by `provider`. */
export type SmsConfig = ({ readonly provider: 'webhook' } & SmsWebhookConfig) | ({ readonly provider: 'twilio' } & TwilioConfig);

/** Which outbound channels are configured. A channel left out falls back to the dev outbox. */
export interface ChannelsConfig {
  readonly smtp?: SmtpConfig | undefined;
  readonly sms?: SmsConfig | undefined;
}

// eslint-disable-next-line no-control-regex -- line breaks in a header value are what we refuse
const NO_LINE_BREAKS = (value: string): boolean => !/[\u0000-\u001f\u007f]/.test(value);

const timeoutMs = (fallback: number) =>
  z
    .number()
    .int()
    .min(100)
    .max(120_000)
    .default(fallback)
    .describe(`How long one send may take, in milliseconds, before it counts as failed and is retried (default ${fallback}).`);

/**
 * Schema of the SMTP relay settings, for the server config. Defaults favour safety: STARTTLS is
 * required unless `requireTls: false` is set explicitly, because the mail carries one-time codes.
 */
export const smtpConfigSchema = z
  .strictObject({
    host: z.string().min(1).describe('Host name or IP address of the SMTP relay.'),
    port: z.number().int().min(1).max(65_535).default(587).describe('TCP port of the relay: 587 for submission with STARTTLS, 465 for implicit TLS (default 587).'),
    secure: z.boolean().default(false).describe('true for implicit TLS from the first byte (port 465); false to connect in plain text and upgrade with STARTTLS (default false).'),
    requireTls: z
      .boolean()
      .default(true)
      .describe('With secure false: refuse to send if the relay does not upgrade with STARTTLS (default true). Set false only for a local test relay.'),
    user: z.string().min(1).optional().describe('User name for SMTP AUTH; leave out when the relay does not require authentication.'),
    password: z.string().optional().describe('Password for SMTP AUTH (secret: never logged). Needs user.'),
    from: z
      .string()
      .min(3)
      .refine(NO_LINE_BREAKS, 'from must not contain line breaks')
      .describe('The From header of every message, e.g. "Latchkey <no-reply@example.org>".'),
    tls: z
      .strictObject({
        rejectUnauthorized: z.boolean().default(true).describe('Verify the relay certificate (default true). Turn off only for a test relay.'),
        ca: z.string().min(1).optional().describe('PEM bundle of the CA certificates to trust for the relay, when it uses a private CA.'),
      })
      .optional()
      .describe('TLS settings for the connection to the relay.'),
    timeoutMs: timeoutMs(15_000),
  })
  .refine((smtp) => smtp.password === undefined || smtp.user !== undefined, {
    message: 'password needs user',
    path: ['password'],
  })
  .describe('The SMTP relay for email. Leave out to keep email in the dev outbox (nothing is sent).');

const smsWebhookConfigSchema = z
  .strictObject({
    provider: z.literal('webhook').describe('A signed JSON POST to a receiver you run (see the sms-webhook channel for the format).'),
    url: z.url({ protocol: /^https?$/ }).describe('The receiver endpoint (https in production).'),
    hmacSecret: z
      .string()
      .min(32)
      .describe('Shared secret for the X-Latchkey-Signature HMAC-SHA256 header, at least 32 characters (secret: never logged). Generate with `openssl rand -hex 32`.'),
    timeoutMs: timeoutMs(10_000),
  })
  .describe('SMS through a signed webhook.');

const twilioConfigSchema = z
  .strictObject({
    provider: z.literal('twilio').describe('Twilio Programmable Messaging.'),
    accountSid: z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'accountSid is AC followed by 32 hex digits').describe('The Twilio account SID (AC…).'),
    authToken: z.string().min(1).describe('The Twilio auth token (secret: never logged).'),
    from: z
      .string()
      .regex(/^(?:\+[1-9]\d{6,14}|[A-Za-z0-9 ]{1,11})$/, 'from is an E.164 number or an alphanumeric sender id of at most 11 characters')
      .optional()
      .describe('The sending number in E.164 form, or an alphanumeric sender id. Give this or messagingServiceSid.'),
    messagingServiceSid: z
      .string()
      .regex(/^MG[0-9a-fA-F]{32}$/, 'messagingServiceSid is MG followed by 32 hex digits')
      .optional()
      .describe('A Twilio Messaging Service SID (MG…) that picks the sender. Give this or from.'),
    baseUrl: z.url({ protocol: /^https?$/ }).default('https://api.twilio.com').describe('The Twilio API origin (default https://api.twilio.com); change it only for a test double.'),
    timeoutMs: timeoutMs(10_000),
  })
  .refine((twilio) => (twilio.from === undefined) !== (twilio.messagingServiceSid === undefined), {
    message: 'set exactly one of from and messagingServiceSid',
    path: ['from'],
  })
  .describe('SMS through Twilio.');

/** Schema of the SMS provider settings, for the server config: a webhook or Twilio, by `provider`. */
export const smsConfigSchema = z
  .discriminatedUnion('provider', [smsWebhookConfigSchema, twilioConfigSchema])
  .describe('The SMS provider. Leave out to keep SMS in the dev outbox (nothing is sent).');

/** Schema of both channel sections together, matching createChannels' argument. */
export const channelsConfigSchema = z.strictObject({
  smtp: smtpConfigSchema.optional(),
  sms: smsConfigSchema.optional(),
});

/**
 * Validates raw channel settings (e.g. from the YAML config) and returns them with defaults
 * applied, typed for createChannels. Throws the ZodError on invalid input. Its declared return
 * type is also the compile-time proof that the schemas and the config interfaces agree.
 */
export function parseChannelsConfig(input: unknown): ChannelsConfig {
  return channelsConfigSchema.parse(input);
}

function createSmsChannel(config: SmsConfig): MessageChannel {
  switch (config.provider) {
    case 'webhook':
      return createSmsWebhookChannel(config);
    case 'twilio':
      return createTwilioChannel(config);
  }
}

/**
 * Builds the email and SMS channels from config, using the dev outbox for any channel that is not
 * configured. Why a fallback rather than an error: a fresh install (and every test) can run whole
 * flows without a provider, with the messages readable in the outbox table. Production configs
 * should configure both; the lead's start-up code can warn when a dev outbox is in use.
 */
export function createChannels(config: ChannelsConfig): { readonly email: MessageChannel; readonly sms: MessageChannel } {
  return {
    email: config.smtp === undefined ? createDevOutboxChannel('email') : createSmtpChannel(config.smtp),
    sms: config.sms === undefined ? createDevOutboxChannel('sms') : createSmsChannel(config.sms),
  };
}
