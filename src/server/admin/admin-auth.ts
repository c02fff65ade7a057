import { fastifyCookie } from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AdminSessionService } from '../../core/admin/admin-sessions.ts';
import { auditActor, can, type AdminPrincipal, type AdminScope } from '../../core/admin/principal.ts';
import { DomainError } from '../../core/errors.ts';
import type { Clock, SecretHasher } from '../../core/ports/system.ts';
import type { Store } from '../../core/ports/store.ts';
import type { AdminTokenService } from '../admin-tokens.ts';
import { bearer, requestContext } from '../http/app.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Admin sign-in and sign-out: no permission needed. */
    adminSignIn?: boolean;
  }
}

/**
 * The admin-console cookie. SECURITY: over TLS the `__Host-` prefix keeps a sibling subdomain from
 * planting or shadowing it (WEB-4); HttpOnly keeps script from reading it; SameSite=Strict keeps
 * other sites' requests from carrying it (WEB-3).
 */
export const adminCookieName = (secure: boolean): string => `${secure ? '__Host-' : ''}lk_admin`;

/**
 * Turns a request into an admin principal and asks `can` for every admin route. Credentials, in
 * order: `Authorization: Bearer` with an API token (`lk_admin_…`) or a console session token
 * (`lk_as_…`, for scripts), else the console cookie. A cookie-authenticated request that changes
 * state must also send the session's CSRF token in `X-CSRF-Token`.
 */
export class AdminAuth {
  readonly cookieName: string;
  /** The principal of each request, resolved once: a guard and its handler must not touch the session (or audit) twice. */
  private readonly resolved = new WeakMap<FastifyRequest, AdminPrincipal>();

  constructor(
    private readonly deps: {
      readonly sessions: AdminSessionService;
      readonly tokens: AdminTokenService;
      readonly store: Store;
      readonly clock: Clock;
      readonly secrets: SecretHasher;
      readonly secure: boolean;
    },
  ) {
    this.cookieName = adminCookieName(deps.secure);
  }

  /** The caller, or auth.required (401) when no live credential was sent; resolved once per request. */
  async principal(request: FastifyRequest): Promise<AdminPrincipal> {
    const resolved = this.resolved.get(request);
    if (resolved !== undefined) return resolved;
    const principal = await this.resolve(request);
    this.resolved.set(request, principal);
    return principal;
  }

  /**
   * The global preValidation hook of the admin API, before any route's own hooks and before the
   * body is validated: a principal that holds only `:read` permissions (an auditor, a read-only
   * token) is refused every state-changing route under `/api/admin/`. SECURITY: "an auditor
   * changes nothing" then holds for every admin route, including ones added later that authorise
   * only in their handler. The `/api/admin/` prefix of the route pattern (not the raw URL) is the
   * admin API's contract; the sign-in routes opt out with `config: { adminSignIn: true }`.
   */
  readonly readOnlyGate = async (request: FastifyRequest): Promise<void> => {
    const route = request.routeOptions.url ?? '';
    if (SAFE_METHODS.has(request.method) || !route.startsWith('/api/admin/') || request.routeOptions.config.adminSignIn === true) return;
    const principal = await this.principal(request);
    if ([...principal.permissions].some((permission) => !permission.endsWith(':read'))) return;
    await this.deny(request, principal, 'a write permission');
  };

  /**
   * A route's preValidation hook that runs `require` before the body is validated, so a caller
   * without the permission gets 401/403 whatever it sends and learns nothing from validation
   * errors. Every admin route that changes state declares one.
   */
  guard(permission: AdminScope): (request: FastifyRequest) => Promise<void> {
    return async (request) => {
      await this.require(request, permission);
    };
  }

  private async resolve(request: FastifyRequest): Promise<AdminPrincipal> {
    const context = requestContext(request);
    const header = bearer(request);
    if (header !== null) {
      const principal = AdminSessionService.isSessionToken(header) ? await this.deps.sessions.authenticate(header, context) : await this.deps.tokens.principal(header);
      if (!principal) throw new DomainError('auth.required', 'Send a valid admin token or console session in an Authorization: Bearer header.');
      return principal;
    }
    const cookie = this.sessionCookie(request);
    if (cookie === null) throw new DomainError('auth.required', 'Sign in to the admin console, or send an admin token in an Authorization: Bearer header.');
    if (!SAFE_METHODS.has(request.method) && !this.csrfValid(request, cookie)) {
      throw new DomainError('auth.forbidden', 'Send the session’s CSRF token (from POST or GET /api/admin/session) in an X-CSRF-Token header.');
    }
    const principal = await this.deps.sessions.authenticate(cookie, context);
    if (!principal) throw new DomainError('auth.required', 'The console session has ended; sign in again.');
    return principal;
  }

  /**
   * The caller, if it holds `permission`; otherwise auth.forbidden (403), recorded as
   * `admin.access_denied`: SECURITY: probing for what a stolen session or token may do leaves a trail (LOG-1).
   */
  async require(request: FastifyRequest, permission: AdminScope): Promise<AdminPrincipal> {
    const principal = await this.principal(request);
    if (can(principal, permission)) return principal;
    return this.deny(request, principal, permission);
  }

  private async deny(request: FastifyRequest, principal: AdminPrincipal, permission: string): Promise<never> {
    const context = requestContext(request);
    await this.deps.store.audit.append([
      {
        type: 'admin.access_denied',
        at: this.deps.clock.now(),
        actor: auditActor(principal),
        subject: null,
        outcome: 'failure',
        reason: 'auth.forbidden',
        ip: context.ip,
        userAgent: context.userAgent,
        department: null,
        tier: null,
        flowId: null,
        data: { permission, method: request.method, route: request.routeOptions.url ?? 'unmatched' },
      },
    ]);
    throw new DomainError('auth.forbidden', principal.kind === 'admin_token' ? `This token lacks the '${permission}' scope.` : `Your roles do not grant '${permission}'.`);
  }

  /** The CSRF token of a session: a keyed MAC of its token, so it is worthless without the server key and for any other session. */
  csrfToken(sessionToken: string): string {
    return this.deps.secrets.mac('admin_csrf', sessionToken);
  }

  /** The console session token of the request's cookie, or null. */
  sessionCookie(request: FastifyRequest): string | null {
    const header = request.headers.cookie;
    if (typeof header !== 'string') return null;
    const value = fastifyCookie.parse(header)[this.cookieName];
    return value !== undefined && AdminSessionService.isSessionToken(value) ? value : null;
  }

  setSessionCookie(reply: FastifyReply, token: string, maxAgeSeconds: number): void {
    void reply.header('set-cookie', fastifyCookie.serialize(this.cookieName, token, { path: '/', httpOnly: true, sameSite: 'strict', secure: this.deps.secure, maxAge: maxAgeSeconds }));
  }

  clearSessionCookie(reply: FastifyReply): void {
    void reply.header('set-cookie', fastifyCookie.serialize(this.cookieName, '', { path: '/', httpOnly: true, sameSite: 'strict', secure: this.deps.secure, maxAge: 0 }));
  }

  /**
   * SECURITY: the header must carry the MAC of this session's token (constant-time compare), and a
   * browser that says the request came from another site is refused even with a token (WEB-3).
   */
  private csrfValid(request: FastifyRequest, sessionToken: string): boolean {
    const fetchSite = request.headers['sec-fetch-site'];
    if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') return false;
    const submitted = request.headers['x-csrf-token'];
    if (typeof submitted !== 'string' || submitted.length > 256) return false;
    return this.deps.secrets.equal(this.csrfToken(sessionToken), submitted);
  }
}
