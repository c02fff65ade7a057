import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Random, SecretHasher } from '../../core/ports/system.ts';

/**
 * The pages' Content-Security-Policy. SECURITY: no inline script or style and nothing from another
 * origin (XSS, TOK-10); forms post only here (form-action), no plugins, no <base> rewriting, and no
 * framing (clickjacking, WEB-5).
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
].join('; ');

/** One year, as WEB-2 asks. */
export const HSTS = 'max-age=31536000; includeSubDomains';

export interface CookieNames {
  readonly session: string;
  readonly flow: string;
  readonly flash: string;
  readonly language: string;
}

/**
 * Cookie names. SECURITY: over TLS the `__Host-` prefix makes the browser refuse a cookie that is
 * not Secure, is scoped to a domain or to another path, so a sibling subdomain cannot plant or
 * shadow the session or flow cookie (WEB-4, SESS-3). Plain http (development) cannot use it.
 */
export function cookieNames(secure: boolean): CookieNames {
  const prefix = secure ? '__Host-' : '';
  return { session: `${prefix}lk_session`, flow: `${prefix}lk_flow`, flash: `${prefix}lk_flash`, language: `${prefix}lk_lang` };
}

/** Every portal cookie: HttpOnly, SameSite=Strict, host-only on `/`, Secure over TLS (WEB-4, SESS-7). */
export const cookieOptions = (secure: boolean, maxAgeSeconds?: number) =>
  ({ path: '/', httpOnly: true, sameSite: 'strict', secure, ...(maxAgeSeconds !== undefined ? { maxAge: maxAgeSeconds } : {}) }) as const;

const SESSION_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/**
 * CSRF protection for the pages: a synchronizer token derived from the page session. The session
 * cookie holds 256 random bits; the token in every form is its keyed MAC, so it cannot be computed
 * without the server key and is worthless with any other session.
 */
export class PageSessions {
  constructor(
    private readonly secrets: SecretHasher,
    private readonly random: Random,
    private readonly names: CookieNames,
    private readonly secure: boolean,
  ) {}

  /** The request's page session, created (and set as a cookie) when it has none or a malformed one. */
  ensure(request: FastifyRequest, reply: FastifyReply): string {
    const existing = request.cookies[this.names.session];
    if (existing !== undefined && SESSION_PATTERN.test(existing)) return existing;
    const created = this.random.bytes(32).toString('base64url');
    void reply.setCookie(this.names.session, created, cookieOptions(this.secure));
    return created;
  }

  csrfToken(session: string): string {
    return this.secrets.mac('portal_csrf', session);
  }

  /**
   * Whether a state-changing request is genuine. SECURITY: the submitted token must be the MAC of
   * the session cookie (compared in constant time); besides, a browser that says the request came
   * from another site is refused even if it carries a token (WEB-3).
   */
  verify(request: FastifyRequest, submitted: string | undefined): boolean {
    const fetchSite = request.headers['sec-fetch-site'];
    if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') return false;
    const session = request.cookies[this.names.session];
    if (session === undefined || !SESSION_PATTERN.test(session) || submitted === undefined || submitted.length > 256) return false;
    return this.secrets.equal(this.csrfToken(session), submitted);
  }
}

/** What one page tells the next after a POST-redirect-GET: an error, attempts left, a finished flow. */
export const flashSchema = z
  .object({
    error: z.string().max(64).optional(),
    reasons: z.array(z.string().max(32)).max(10).optional(),
    attempts: z.int().min(0).max(100).optional(),
    field: z.string().max(32).optional(),
    reference: z.string().max(64).optional(),
    done: z.enum(['reset', 'unlock']).optional(),
    notice: z.enum(['added', 'removed', 'signed_out', 'trip_declared', 'trip_cancelled']).optional(),
  })
  .strict();
export type Flash = z.infer<typeof flashSchema>;

/**
 * Flash messages in a short-lived cookie, MAC'd together with the page session. SECURITY: a flash
 * cannot be forged or replayed into another session, so nobody can make the "password changed" page
 * appear in a victim's browser or inject a misleading error; it carries codes, never text or secrets.
 */
export class FlashCookie {
  constructor(
    private readonly secrets: SecretHasher,
    private readonly names: CookieNames,
    private readonly secure: boolean,
  ) {}

  set(reply: FastifyReply, session: string, flash: Flash): void {
    const body = Buffer.from(JSON.stringify(flash)).toString('base64url');
    void reply.setCookie(this.names.flash, `${body}.${this.secrets.mac('portal_flash', `${session}.${body}`)}`, cookieOptions(this.secure, 120));
  }

  /** Reads and clears the flash; a missing, tampered or foreign one is simply none. */
  take(request: FastifyRequest, reply: FastifyReply, session: string): Flash | null {
    const raw = request.cookies[this.names.flash];
    if (raw === undefined) return null;
    void reply.clearCookie(this.names.flash, cookieOptions(this.secure));
    const [body, mac, extra] = raw.split('.');
    if (!body || !mac || extra !== undefined || body.length > 2048) return null;
    if (!this.secrets.equal(this.secrets.mac('portal_flash', `${session}.${body}`), mac)) return null;
    try {
      const parsed = flashSchema.safeParse(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
      return parsed.success ? parsed.data : null;
    } catch {
      return null;
    }
  }
}
