import { PermanentDeliveryError, type OutboundMessage } from '../../../core/ports/message-channel.ts';
import { maskPhone } from '../redact.ts';

/** E.164: a plus, a non-zero country digit, then 6 to 14 more digits. Nothing else is dialled. */
const E164 = /^\+[1-9]\d{6,14}$/;

/** Default time a provider gets to answer one send, in milliseconds. */
export const DEFAULT_SMS_TIMEOUT_MS = 10_000;

/**
 * Checks that an OutboundMessage is an SMS to an E.164 number; anything else can never be delivered,
 * so it is a PermanentDeliveryError, raised before any request leaves the process.
 */
export function assertSmsMessage(adapter: string, message: OutboundMessage): void {
  if (message.channel !== 'sms') {
    throw new PermanentDeliveryError(`${adapter}: cannot send a ${message.channel} message`);
  }
  if (!E164.test(message.to)) {
    throw new PermanentDeliveryError(`${adapter}: refused recipient ${maskPhone(message.to)}: not an E.164 number`);
  }
}

/** Checks a configured provider URL once, at start-up, so a typo fails loudly rather than per send. */
export function parseHttpUrl(adapter: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${adapter}: the URL is not valid`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Error(`${adapter}: the URL must be http or https`);
  }
  return url;
}

/** One provider request, already serialised; `body` is exactly what goes on the wire. */
export interface ProviderRequest {
  readonly adapter: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly timeoutMs: number;
  /** The recipient, only ever shown masked. */
  readonly to: string;
  /** Picks the provider's message id out of a 2xx JSON body. */
  readonly idFrom: (json: unknown) => string | null;
  /** A short, number-free detail from a non-2xx JSON body (e.g. a provider error code). */
  readonly errorDetailFrom?: (json: unknown) => string | null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Names the network failure by its code only; undici's messages and causes can carry the URL. */
function networkReason(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return 'timeout';
  const cause = error instanceof Error ? error.cause : undefined;
  if (typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string') {
    return cause.code;
  }
  return 'network error';
}

/**
 * POSTs one provider request and maps the outcome onto the MessageChannel contract:
 * 2xx → the provider id (or null); 4xx other than 408 and 429 → PermanentDeliveryError, because the
 * provider refused this very request and resending it changes nothing; 408, 429, 3xx, 5xx, network
 * failures and timeouts → a plain (retryable) Error. Redirects are not followed: a signed or
 * authenticated request must reach only the configured endpoint. Error messages carry the masked
 * number, the status and the provider's error code, never the number or the text.
 */
export async function deliver(request: ProviderRequest): Promise<{ readonly providerMessageId: string | null }> {
  const who = maskPhone(request.to);
  let response: Response;
  let text: string;
  try {
    // The same signal bounds the body read, so a provider that stalls mid-body also times out.
    const signal = AbortSignal.timeout(request.timeoutMs);
    response = await fetch(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
      signal,
    });
    text = await response.text();
  } catch (error) {
    const reason = networkReason(error);
    const suffix = reason === 'timeout' ? ` (no answer within ${request.timeoutMs} ms)` : ` (${reason})`;
    throw new Error(`${request.adapter}: delivery to ${who} failed${suffix}`);
  }

  if (response.status >= 200 && response.status < 300) {
    return { providerMessageId: request.idFrom(parseJson(text)) };
  }
  const detail = request.errorDetailFrom?.(parseJson(text)) ?? null;
  const summary = `${request.adapter}: delivery to ${who} failed with HTTP ${response.status}${detail === null ? '' : ` (${detail})`}`;
  const permanent = response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429;
  throw permanent ? new PermanentDeliveryError(summary) : new Error(summary);
}

/**
 * Reads a string or finite-number field from a JSON object, as a string; otherwise null. Ids longer
 * than 256 characters are dropped, because the id is stored and logged and the provider picks it.
 */
export function stringField(json: unknown, field: string): string | null {
  if (typeof json !== 'object' || json === null || !(field in json)) return null;
  const value: unknown = (json as Record<string, unknown>)[field];
  if (typeof value === 'string' && value !== '' && value.length <= 256) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}
