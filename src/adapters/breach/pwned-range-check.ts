import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DomainError } from '../../core/errors.ts';
import type { BreachedPasswordCheck } from '../../core/ports/password-breach.ts';

/** Settings of the Have I Been Pwned range client. Optional fields accept `undefined` (zod output). */
export interface PwnedRangeConfig {
  /** The API origin, e.g. https://api.pwnedpasswords.com (or a self-hosted mirror). */
  readonly baseUrl: string;
  /** How long one lookup may take, in milliseconds (default 5000). */
  readonly timeoutMs?: number | undefined;
  /**
   * Send `Add-Padding: true`, so the service pads every answer with fake count-0 entries and the
   * response size no longer hints at which prefix was asked (default true).
   */
  readonly addPadding?: boolean | undefined;
  /** The User-Agent header; the public API asks clients to identify themselves (default `Latchkey`). */
  readonly userAgent?: string | undefined;
}

/** Schema of PwnedRangeConfig for the server config, with the defaults applied. */
export const pwnedRangeConfigSchema = z
  .strictObject({
    baseUrl: z
      .httpUrl()
      .default('https://api.pwnedpasswords.com')
      .describe('Origin of the Pwned Passwords range API, or of a self-hosted mirror (default https://api.pwnedpasswords.com).'),
    timeoutMs: z.number().int().min(100).max(60_000).default(5_000).describe('How long one lookup may take, in milliseconds (default 5000).'),
    addPadding: z.boolean().default(true).describe('Ask for padded answers so their size reveals nothing (default true).'),
    userAgent: z.string().min(1).max(200).default('Latchkey').describe('User-Agent sent with each lookup (default "Latchkey").'),
  })
  .describe('The breached-password check (Have I Been Pwned k-anonymity range API).');

const DEFAULT_TIMEOUT_MS = 5_000;

/** One answer line: the 35 remaining hex digits of a SHA-1, a colon, how often it was seen. */
const RANGE_LINE = /^([0-9A-F]{35}):(\d+)$/;

const unavailable = (): DomainError =>
  new DomainError('dependency.unavailable', 'The breached-password service cannot be reached; try again shortly.');

/**
 * Counts the matches for `suffix` in a range answer. Count-0 lines are padding and never match.
 * Why any malformed line fails the whole lookup: a captive portal or proxy error page answering 200
 * would otherwise read as "never seen" and let a breached password through.
 */
function countFor(body: string, suffix: string): number {
  let found = 0;
  for (const raw of body.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const match = RANGE_LINE.exec(line.toUpperCase());
    if (match === null) throw unavailable();
    const count = Number(match[2]);
    if (match[1] === suffix && count > 0) found = count;
  }
  return found;
}

/**
 * Creates the breached-password check backed by the Have I Been Pwned range API (k-anonymity):
 * the password is hashed with SHA-1 (UTF-8, as given), only the first 5 hex digits are sent as
 * `GET {baseUrl}/range/{prefix}`, and the matching suffix is looked up locally in the answer. So
 * neither the password nor its full hash ever leaves the process.
 *
 * Any network error, timeout, non-2xx answer or unreadable body throws
 * DomainError('dependency.unavailable'): the caller decides whether to fail closed, and an answer we
 * cannot read must never be taken for "not breached".
 */
export function createPwnedRangeCheck(config: PwnedRangeConfig): BreachedPasswordCheck {
  const base = new URL(config.baseUrl);
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new Error('pwned-range: baseUrl must be http or https');
  const basePath = base.pathname.replace(/\/+$/, '');
  const timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const headers: Record<string, string> = {
    Accept: 'text/plain',
    'User-Agent': config.userAgent ?? 'Latchkey',
  };
  if (config.addPadding ?? true) headers['Add-Padding'] = 'true';

  return {
    async timesSeen(password: string): Promise<number> {
      const hash = createHash('sha1').update(password, 'utf8').digest('hex').toUpperCase();
      const prefix = hash.slice(0, 5);
      const suffix = hash.slice(5);
      const url = new URL(`${basePath}/range/${prefix}`, base);
      let response: Response;
      let body: string;
      try {
        // One signal for headers and body, so a server that stalls mid-answer also times out.
        response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
        body = await response.text();
      } catch {
        throw unavailable();
      }
      if (!response.ok) throw unavailable();
      return countFor(body, suffix);
    },
  };
}
