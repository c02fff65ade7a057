import type { MessageChannel, OutboundMessage } from '../../../core/ports/message-channel.ts';
import { DEFAULT_SMS_TIMEOUT_MS, assertSmsMessage, deliver, parseHttpUrl, stringField } from './http-delivery.ts';

/** Configuration of the Twilio SMS channel. Optional fields accept `undefined` (zod output). */
export interface TwilioConfig {
  /** The account SID, `AC` followed by 32 hex digits. */
  readonly accountSid: string;
  readonly authToken: string;
  /** The sending number (E.164) or alphanumeric sender id. Give this or `messagingServiceSid`. */
  readonly from?: string | undefined;
  /** A Messaging Service SID (`MG…`), which picks the sender itself. Give this or `from`. */
  readonly messagingServiceSid?: string | undefined;
  /** The API origin; defaults to https://api.twilio.com (tests point it at a local server). */
  readonly baseUrl?: string | undefined;
  /** How long Twilio gets to answer, in milliseconds (default 10000). */
  readonly timeoutMs?: number | undefined;
}

/** Twilio SIDs are two letters and 32 hex digits; checking it keeps the URL path ours. */
const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;
const SERVICE_SID = /^MG[0-9a-fA-F]{32}$/;

/** Twilio's JSON error body carries a numeric `code` (e.g. 21211); its `message` can echo the number. */
function twilioErrorCode(json: unknown): string | null {
  const code = stringField(json, 'code');
  return code !== null && /^\d{1,6}$/.test(code) ? `twilio error ${code}` : null;
}

/**
 * Creates the SMS channel that sends through Twilio's Programmable Messaging API: one
 * `POST {baseUrl}/2010-04-01/Accounts/{AccountSid}/Messages.json` per message, form-encoded with
 * `To`, then `From` or `MessagingServiceSid`, then `Body`, authenticated with HTTP Basic
 * (AccountSid:AuthToken). The `sid` of the created message is the provider id.
 *
 * Why a direct HTTP call rather than the Twilio SDK: one endpoint is all we use, and this keeps the
 * dependency tree (and what can see the auth token) small. Error mapping is the shared one: 4xx
 * other than 408/429 is permanent (e.g. 21211, invalid `To`), the rest is retried; only Twilio's
 * numeric error code is kept from an error body, because its message text repeats the number.
 */
export function createTwilioChannel(config: TwilioConfig): MessageChannel {
  if (!ACCOUNT_SID.test(config.accountSid)) throw new Error('twilio: accountSid must be AC followed by 32 hex digits');
  if (config.authToken === '') throw new Error('twilio: authToken must not be empty');
  const hasFrom = config.from !== undefined && config.from !== '';
  const hasService = config.messagingServiceSid !== undefined && config.messagingServiceSid !== '';
  // Twilio would quietly prefer the service when both are set; asking for exactly one avoids surprises.
  if (hasFrom === hasService) throw new Error('twilio: set exactly one of from and messagingServiceSid');
  if (hasService && !SERVICE_SID.test(config.messagingServiceSid ?? '')) {
    throw new Error('twilio: messagingServiceSid must be MG followed by 32 hex digits');
  }
  const base = parseHttpUrl('twilio', config.baseUrl ?? 'https://api.twilio.com');
  const url = new URL(`${base.pathname.replace(/\/+$/, '')}/2010-04-01/Accounts/${config.accountSid}/Messages.json`, base).href;
  const authorization = `Basic ${Buffer.from(`${config.accountSid}:${config.authToken}`, 'utf8').toString('base64')}`;
  const timeoutMs = config.timeoutMs ?? DEFAULT_SMS_TIMEOUT_MS;

  return {
    kind: 'sms',
    name: 'twilio',
    async send(message: OutboundMessage) {
      assertSmsMessage('twilio', message);
      const form = new URLSearchParams();
      form.set('To', message.to);
      if (hasService) form.set('MessagingServiceSid', config.messagingServiceSid ?? '');
      else form.set('From', config.from ?? '');
      form.set('Body', message.text);
      return deliver({
        adapter: 'twilio',
        url,
        headers: {
          Authorization: authorization,
          'Content-Type': 'application/x-www-form-urlencoded',
          Accept: 'application/json',
        },
        body: form.toString(),
        timeoutMs,
        to: message.to,
        idFrom: (json) => stringField(json, 'sid'),
        errorDetailFrom: twilioErrorCode,
      });
    },
  };
}
