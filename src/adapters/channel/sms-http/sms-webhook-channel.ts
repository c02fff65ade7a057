import { createHmac } from 'node:crypto';
import type { MessageChannel, OutboundMessage } from '../../../core/ports/message-channel.ts';
import { DEFAULT_SMS_TIMEOUT_MS, assertSmsMessage, deliver, parseHttpUrl, stringField } from './http-delivery.ts';

/** Configuration of the generic signed SMS webhook. Optional fields accept `undefined` (zod output). */
export interface SmsWebhookConfig {
  /** The receiver's endpoint, http or https. */
  readonly url: string;
  /** Shared secret for the HMAC-SHA256 signature; the receiver holds the same value. */
  readonly hmacSecret: string;
  /** How long the receiver gets to answer, in milliseconds (default 10000). */
  readonly timeoutMs?: number | undefined;
}

/** The exact JSON body the webhook receives; keys are always serialised in this order. */
export interface SmsWebhookBody {
  /** The recipient in E.164 form, e.g. `+15551234567`. */
  readonly to: string;
  /** The message text to send as is (it may carry a one-time code). */
  readonly text: string;
  /** Why the message is sent: `challenge_code`, `enrollment_code`, `recovery_notice` or `enrollment_notice`. */
  readonly purpose: string;
}

/**
 * Computes the signature header value for a webhook request: `sha256=` followed by the lower-case
 * hex HMAC-SHA256, keyed with the shared secret, of `<timestamp>.<raw body>`. Exported so that
 * receivers written in TypeScript (and our tests) verify with the very same code path.
 */
export function signWebhookRequest(secret: string, timestamp: string, rawBody: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${rawBody}`, 'utf8').digest('hex')}`;
}

/**
 * Creates the SMS channel that hands each message to an operator-run HTTP receiver (an SMS gateway,
 * a bridge to a carrier API), signed so the receiver can tell Latchkey's requests from anyone's.
 *
 * Wire format, one request per message:
 *
 * ```
 * POST <url>
 * Content-Type: application/json
 * X-Latchkey-Timestamp: 1718000000
 * X-Latchkey-Signature: sha256=3f0c…(64 hex digits)
 *
 * {"to":"+15551234567","text":"Your Latchkey code is 123456","purpose":"challenge_code"}
 * ```
 *
 * The body is UTF-8 JSON with exactly the keys `to`, `text` and `purpose`, in that order, and no
 * whitespace (see SmsWebhookBody). `X-Latchkey-Timestamp` is the send time in Unix seconds.
 *
 * To verify, a receiver: (1) reads the raw body bytes before any JSON parsing; (2) computes
 * HMAC-SHA256 with the shared secret over the ASCII timestamp, a `.`, and the raw body; (3) compares
 * `sha256=<hex>` with `X-Latchkey-Signature` in constant time; (4) rejects timestamps more than a few
 * minutes from its own clock, which stops replays of a captured request.
 *
 * Answers: any 2xx means accepted; if the body is a JSON object with a string (or number) `id`, it
 * is kept as the provider message id. 4xx (other than 408 and 429) means "never" and the message is
 * dropped as permanently failed; 408, 429, 5xx, redirects, network errors and timeouts are retried
 * by the outbox worker. Why HMAC over the timestamp and body rather than a bearer token: a
 * signature binds the content and time, so a leaked request can be neither altered nor replayed
 * later.
 */
export function createSmsWebhookChannel(config: SmsWebhookConfig): MessageChannel {
  const url = parseHttpUrl('sms-webhook', config.url).href;
  if (config.hmacSecret === '') throw new Error('sms-webhook: the HMAC secret must not be empty');
  const timeoutMs = config.timeoutMs ?? DEFAULT_SMS_TIMEOUT_MS;

  return {
    kind: 'sms',
    name: 'sms-webhook',
    async send(message: OutboundMessage) {
      assertSmsMessage('sms-webhook', message);
      const payload: SmsWebhookBody = { to: message.to, text: message.text, purpose: message.purpose };
      const body = JSON.stringify(payload);
      const timestamp = String(Math.floor(Date.now() / 1000));
      return deliver({
        adapter: 'sms-webhook',
        url,
        headers: {
          'Content-Type': 'application/json',
          'X-Latchkey-Timestamp': timestamp,
          'X-Latchkey-Signature': signWebhookRequest(config.hmacSecret, timestamp, body),
        },
        body,
        timeoutMs,
        to: message.to,
        idFrom: (json) => stringField(json, 'id'),
      });
    },
  };
}
