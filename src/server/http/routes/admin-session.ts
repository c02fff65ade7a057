import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { AdminSessionService } from '../../../core/admin/admin-sessions.ts';
import { ADMIN_SCOPES, type AdminPrincipal } from '../../../core/admin/principal.ts';
import type { Latchkey } from '../../compose.ts';
import { bearer, requestContext } from '../app.ts';
import { identifierField, passwordField, webauthnCredentialField } from './recovery.ts';

const security = [{ bearer: [] }];
/** Signing in and out needs no permission: these routes pass AdminAuth.readOnlyGate. */
const SIGN_IN = { adminSignIn: true } as const;
const pendingTokenField = z.string().regex(/^lk_as_[A-Za-z0-9_-]{43}$/, 'use the pendingToken from POST /api/admin/session');
const codeField = z.string().min(1, 'code is required').max(16, 'code is at most 16 characters');

/** What the console shows about who is signed in; never a token. */
const view = (principal: AdminPrincipal) => ({
  kind: principal.kind,
  accountId: principal.accountId,
  username: principal.username,
  roles: [...principal.roles],
  // In catalog order, so clients can compare lists.
  permissions: ADMIN_SCOPES.filter((permission) => principal.permissions.has(permission)),
});

/**
 * Admin-console sign-in: the directory password, then a TOTP code, then a session that works as an
 * HttpOnly SameSite=Strict cookie for the console and as a bearer token for scripts. Cookie-borne
 * state changes need the CSRF token these routes return.
 */
export function registerAdminSessionRoutes(app: FastifyInstance, latchkey: Latchkey): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const { adminSessions, adminAuth } = latchkey;

  typed.post(
    '/api/admin/session',
    {
      config: SIGN_IN,
      schema: {
        tags: ['admin'],
        summary: 'Admin sign-in, step 1: the directory password. Returns a pending token for the second factor.',
        description: 'Unknown account, wrong password and an account with no admin role all get the same 401 auth.failed.',
        body: z.object({ username: identifierField, password: passwordField }).strict(),
      },
    },
    async (request, reply) => {
      const pending = await adminSessions.signIn(request.body, requestContext(request));
      return reply.code(202).send({ status: 'second_factor_required', secondFactor: pending.secondFactor, methods: pending.methods, pendingToken: pending.pendingToken, expiresAt: pending.expiresAt.toISOString() });
    },
  );

  typed.post(
    '/api/admin/session/passkey',
    {
      config: SIGN_IN,
      schema: {
        tags: ['admin'],
        summary: 'Admin sign-in, step 2 with a passkey: request options for the account’s passkey and the challenge id to answer with.',
        body: z.object({ pendingToken: pendingTokenField }).strict(),
      },
    },
    async (request) => adminSessions.beginPasskey(request.body.pendingToken),
  );

  typed.post(
    '/api/admin/session/second-factor',
    {
      config: SIGN_IN,
      schema: {
        tags: ['admin'],
        summary: 'Admin sign-in, step 2: a current code from the registered authenticator app, or a passkey assertion. Sets the session cookie and returns the session token and its CSRF token.',
        description: 'For a passkey, get the options from /api/admin/session/passkey first and send `{pendingToken, challengeId, credential}`.',
        body: z.union([
          z.object({ pendingToken: pendingTokenField, code: codeField }).strict(),
          z.object({ pendingToken: pendingTokenField, challengeId: z.uuid(), credential: webauthnCredentialField }).strict(),
        ]),
      },
    },
    async (request, reply) => {
      const { body } = request;
      const signedIn = await adminSessions.verifySecondFactor(body.pendingToken, 'code' in body ? body.code : { challengeId: body.challengeId, credential: body.credential }, requestContext(request));
      adminAuth.setSessionCookie(reply, signedIn.sessionToken, latchkey.config.admin.sessionLifetimeSeconds);
      return {
        status: 'signed_in',
        sessionToken: signedIn.sessionToken,
        csrfToken: adminAuth.csrfToken(signedIn.sessionToken),
        expiresAt: signedIn.expiresAt.toISOString(),
        idleSeconds: signedIn.idleSeconds,
        admin: view(signedIn.principal),
      };
    },
  );

  typed.get('/api/admin/session', { schema: { tags: ['admin'], summary: 'Who is calling: kind, account, roles and permissions; the CSRF token for a console session.', security, querystring: z.object({}).strict() } }, async (request) => {
    const principal = await adminAuth.principal(request);
    const header = bearer(request);
    const sessionToken = header !== null && AdminSessionService.isSessionToken(header) ? header : header === null ? adminAuth.sessionCookie(request) : null;
    return { admin: view(principal), csrfToken: sessionToken === null ? null : adminAuth.csrfToken(sessionToken) };
  });

  typed.delete('/api/admin/session', { config: SIGN_IN, schema: { tags: ['admin'], summary: 'Sign out of the console (a cookie session needs its X-CSRF-Token).', security } }, async (request, reply) => {
    const principal = await adminAuth.principal(request);
    const header = bearer(request);
    const sessionToken = header ?? adminAuth.sessionCookie(request);
    if (principal.kind === 'admin_session' && sessionToken !== null) await adminSessions.signOut(sessionToken, requestContext(request));
    adminAuth.clearSessionCookie(reply);
    return reply.code(204).send();
  });
}
