import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DomainError, isDomainError, type ErrorCode } from '../../../core/errors.ts';
import type { ChallengeAnswer } from '../../../core/methods/method.ts';
import { METHOD_IDS } from '../../../core/methods/method-ids.ts';
import { resolveTier } from '../../../core/policy/tier.ts';
import type { Latchkey } from '../../compose.ts';
import { requestContext } from '../../http/app.ts';
import { identifierField, passwordField, webauthnCredentialField } from '../../http/routes/recovery.ts';
import { LANGUAGES, type MessageKey } from '../i18n/catalog.ts';
import { cookieOptions, type CookieNames, type Flash, type FlashCookie, type PageSessions } from '../page-security.ts';
import { problemPage, type PageContext, type PageErrors } from '../views.ts';
import { registerReconfirmPages } from './reconfirm.ts';
import { registerTravelPages } from './travel.ts';
import { ADDABLE_METHODS, gatePage, methodsPage, passkeySetupPage, recoveryCodesPage, signInPage, totpSetupPage, verifyPage } from './views.ts';

/** What the portal hands these pages: its request context, page sending, error messages, CSRF and flash cookies. */
export interface PortalToolkit {
  readonly contextOf: (request: FastifyRequest, reply: FastifyReply) => { ctx: PageContext; session: string };
  readonly sendPage: (reply: FastifyReply, page: string, status?: number) => FastifyReply;
  readonly errorsOf: (ctx: PageContext, flash: Flash | null) => PageErrors;
  readonly sessions: PageSessions;
  readonly flashes: FlashCookie;
  readonly names: CookieNames;
  readonly secure: boolean;
}

/** The WebAuthn browser library, served from this server (no CDN: CSP `script-src 'self'`). */
const WEBAUTHN_BROWSER_BUNDLE = fileURLToPath(new URL('../dist/bundle/index.umd.min.js', import.meta.resolve('@simplewebauthn/browser')));

const csrfField = z.string().max(256).optional();
const languageQuery = z.object({ lang: z.enum(LANGUAGES).optional() }).strict();
const enrollmentParam = z.object({ id: z.uuid() }).strict();
const NOTICES: Readonly<Record<string, MessageKey>> = { added: 'me.notice.added', removed: 'me.notice.removed', signed_out: 'me.signed_out' };
/** Errors after which the session is gone: sign in again. */
const SIGNED_OUT = new Set<ErrorCode>(['auth.required']);

/** Up to five question choices (indexes into the policy catalogue) and answers, as the questions form posts them. */
const QUESTION_FIELDS = Object.fromEntries([1, 2, 3, 4, 5].flatMap((number) => [[`question_${number}`, z.string().regex(/^\d{1,2}$/).optional()], [`answer_${number}`, z.string().max(256).optional()]])) as Record<`question_${number}` | `answer_${number}`, z.ZodOptional<z.ZodString>>;

const seeOther = (reply: FastifyReply, path: string): FastifyReply => reply.code(303).header('location', path).send();

/** A credential posted by the page script as JSON text in a form field, checked by the API's own schema. */
export function parseCredential(text: string | undefined): ChallengeAnswer | null {
  if (!text) return null;
  try {
    const parsed = webauthnCredentialField.safeParse(JSON.parse(text));
    return parsed.success ? { credential: parsed.data } : null;
  } catch {
    return null;
  }
}

/**
 * "My recovery methods": pages for a signed-in person over the SelfServiceService the `/api/me`
 * routes use (same step-up, limits, notices and audit events). The session token lives only in an
 * HttpOnly SameSite=Strict cookie; the sign-in gate is a recovery flow of purpose `sign_in` whose
 * token sits in the portal's flow cookie. Shown-once secrets (TOTP key, recovery codes, passkey
 * options) are rendered in the reply to the POST that created them, never at a URL. docs/portal.md.
 */
export function registerMePages(pages: FastifyInstance, latchkey: Latchkey, kit: PortalToolkit): void {
  const typed = pages.withTypeProvider<ZodTypeProvider>();
  const { selfService, recovery, deps, accessPasses } = latchkey;
  const { contextOf, sendPage, errorsOf, sessions, flashes, names, secure } = kit;
  const meCookie = `${secure ? '__Host-' : ''}lk_me`;
  const webauthnBundle = readFileSync(WEBAUTHN_BROWSER_BUNDLE);

  typed.get('/vendor/simplewebauthn-browser.js', { schema: { hide: true } }, async (_request, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(webauthnBundle));

  /** The chosen catalogue questions with their answers; the method checks them (known question, no repeats, answer length). */
  const questionAnswers = (body: Readonly<Record<string, string | undefined>>): { question: string; answer: string }[] => {
    const catalogue = deps.policy().methods.security_questions.questions;
    const answers: { question: string; answer: string }[] = [];
    for (const number of [1, 2, 3, 4, 5]) {
      const choice = body[`question_${number}`];
      const answer = body[`answer_${number}`];
      if (choice === undefined && answer === undefined) continue;
      answers.push({ question: catalogue[Number(choice)] ?? '', answer: answer ?? '' });
    }
    return answers;
  };

  const noticeOf = (flash: Flash | null): MessageKey | null => (flash?.notice ? (NOTICES[flash.notice] ?? null) : null);

  /** A refused page action: back to sign-in when the session is gone or a step-up is due, else back to `backTo` with the message. */
  const refuse = (request: FastifyRequest, reply: FastifyReply, session: string, error: DomainError, backTo: string): FastifyReply => {
    if (SIGNED_OUT.has(error.code) || error.code === 'auth.step_up_required') {
      if (SIGNED_OUT.has(error.code)) void reply.clearCookie(meCookie, cookieOptions(secure));
      flashes.set(reply, session, { error: error.code });
      return seeOther(reply, '/me/sign-in');
    }
    flashes.set(reply, session, { error: error.code, ...(error.code === 'challenge.invalid' ? { field: 'code' } : {}) });
    return seeOther(reply, request.method === 'POST' ? backTo : '/me');
  };

  /** Runs a signed-in page action after the CSRF check; domain errors become messages on the right page. */
  const signedIn = async (
    request: FastifyRequest,
    reply: FastifyReply,
    options: { csrf?: string | undefined; backTo: string },
    action: (token: string, ctx: PageContext, session: string) => Promise<FastifyReply>,
  ): Promise<FastifyReply> => {
    const { ctx, session } = contextOf(request, reply);
    if (request.method === 'POST' && !sessions.verify(request, options.csrf)) return sendPage(reply, problemPage(ctx, { items: [{ message: ctx.t('error.csrf') }], stuck: false }, options.backTo), 403);
    const token = request.cookies[meCookie];
    if (token === undefined) return seeOther(reply, '/me/sign-in');
    try {
      return await action(token, ctx, session);
    } catch (error) {
      if (isDomainError(error)) return refuse(request, reply, session, error, options.backTo);
      throw error;
    }
  };

  typed.get('/me/sign-in', { schema: { hide: true, querystring: languageQuery } }, async (request, reply) => {
    const { ctx, session } = contextOf(request, reply);
    const flash = flashes.take(request, reply, session);
    return sendPage(reply, signInPage(ctx, errorsOf(ctx, flash), noticeOf(flash)));
  });

  typed.post('/me/sign-in', { schema: { hide: true, body: z.object({ _csrf: csrfField, username: z.union([z.literal(''), identifierField]), password: passwordField }).strict() } }, async (request, reply) => {
    const { ctx, session } = contextOf(request, reply);
    if (!sessions.verify(request, request.body._csrf)) return sendPage(reply, problemPage(ctx, { items: [{ message: ctx.t('error.csrf') }], stuck: false }, '/me/sign-in'), 403);
    try {
      if (request.body.username === '' || request.body.password === '') throw new DomainError('auth.failed');
      const result = await selfService.signIn({ username: request.body.username, password: request.body.password }, requestContext(request));
      if (result.status === 'signed_in') {
        void reply.setCookie(meCookie, result.sessionToken, cookieOptions(secure));
        return seeOther(reply, '/me');
      }
      void reply.setCookie(names.flow, result.flowToken, cookieOptions(secure));
      return seeOther(reply, '/me/gate');
    } catch (error) {
      if (!isDomainError(error)) throw error;
      flashes.set(reply, session, { error: error.code });
      return seeOther(reply, '/me/sign-in');
    }
  });

  typed.post('/me/sign-in/pass', { schema: { hide: true, body: z.object({ _csrf: csrfField, username: z.union([z.literal(''), identifierField]), pass: z.string().max(64) }).strict() } }, async (request, reply) => {
    const { ctx, session } = contextOf(request, reply);
    if (!sessions.verify(request, request.body._csrf)) return sendPage(reply, problemPage(ctx, { items: [{ message: ctx.t('error.csrf') }], stuck: false }, '/me/sign-in'), 403);
    try {
      if (request.body.username === '' || request.body.pass === '') throw new DomainError('auth.failed');
      // Forced registration: the session may only add methods until the tier's minimum is met; /me shows the prompt.
      const opened = await accessPasses.signIn({ username: request.body.username, pass: request.body.pass }, requestContext(request));
      void reply.setCookie(meCookie, opened.sessionToken, cookieOptions(secure));
      return seeOther(reply, '/me');
    } catch (error) {
      if (!isDomainError(error)) throw error;
      flashes.set(reply, session, { error: error.code });
      return seeOther(reply, '/me/sign-in');
    }
  });

  /** Loads the sign-in gate flow of the flow cookie, or sends the person back to sign in. */
  const withGate = async (request: FastifyRequest, reply: FastifyReply, csrf: string | undefined, action: (token: string, ctx: PageContext, session: string) => Promise<FastifyReply>): Promise<FastifyReply> => {
    const { ctx, session } = contextOf(request, reply);
    if (request.method === 'POST' && !sessions.verify(request, csrf)) return sendPage(reply, problemPage(ctx, { items: [{ message: ctx.t('error.csrf') }], stuck: false }, '/me/gate'), 403);
    const token = request.cookies[names.flow];
    try {
      if (token === undefined) throw new DomainError('flow.not_found');
      return await action(token, ctx, session);
    } catch (error) {
      if (!isDomainError(error)) throw error;
      const ended = error.code === 'flow.not_found' || error.code === 'flow.expired';
      if (ended) void reply.clearCookie(names.flow, cookieOptions(secure));
      flashes.set(reply, session, { error: error.code });
      return seeOther(reply, ended || request.method === 'GET' ? '/me/sign-in' : '/me/gate');
    }
  };

  typed.get('/me/gate', { schema: { hide: true, querystring: languageQuery } }, async (request, reply) =>
    withGate(request, reply, undefined, async (token, ctx, session) => {
      const view = await recovery.describe(token, requestContext(request));
      if (view.purpose !== 'sign_in') throw new DomainError('flow.not_found');
      return sendPage(reply, gatePage(ctx, view, errorsOf(ctx, flashes.take(request, reply, session))));
    }),
  );

  typed.post('/me/gate/method', { schema: { hide: true, body: z.object({ _csrf: csrfField, method: z.enum(METHOD_IDS).optional() }).strict() } }, async (request, reply) =>
    withGate(request, reply, request.body._csrf, async (token, _ctx, session) => {
      const { method } = request.body;
      if (method === undefined) {
        flashes.set(reply, session, { error: 'method.required', field: 'method' });
        return seeOther(reply, '/me/gate');
      }
      await recovery.chooseMethod(token, method, requestContext(request));
      return seeOther(reply, '/me/gate');
    }),
  );

  typed.post('/me/gate/answer', { schema: { hide: true, body: z.object({ _csrf: csrfField, code: z.string().max(64).optional(), credential: z.string().max(12_000).optional() }).strict() } }, async (request, reply) =>
    withGate(request, reply, request.body._csrf, async (token, _ctx, session) => {
      const answer: ChallengeAnswer | null = request.body.code ? { code: request.body.code.trim() } : parseCredential(request.body.credential);
      if (answer === null) {
        flashes.set(reply, session, { error: 'code.required', field: 'code' });
        return seeOther(reply, '/me/gate');
      }
      const result = await recovery.answer(token, answer, requestContext(request));
      if (result.flowToken) void reply.setCookie(names.flow, result.flowToken, cookieOptions(secure));
      if (result.sessionToken) {
        void reply.clearCookie(names.flow, cookieOptions(secure));
        void reply.setCookie(meCookie, result.sessionToken, cookieOptions(secure));
        return seeOther(reply, '/me');
      }
      if (result.outcome !== 'ok') flashes.set(reply, session, { error: result.outcome === 'challenge_exhausted' ? 'exhausted' : 'challenge.invalid', ...(result.attemptsRemaining !== undefined ? { attempts: result.attemptsRemaining } : {}) });
      return seeOther(reply, '/me/gate');
    }),
  );

  typed.post('/me/sign-out', { schema: { hide: true, body: z.object({ _csrf: csrfField }).strict() } }, async (request, reply) =>
    signedIn(request, reply, { csrf: request.body._csrf, backTo: '/me' }, async (token, _ctx, session) => {
      await selfService.signOut(token, requestContext(request));
      void reply.clearCookie(meCookie, cookieOptions(secure));
      flashes.set(reply, session, { notice: 'signed_out' });
      return seeOther(reply, '/me/sign-in');
    }),
  );

  typed.get('/me', { schema: { hide: true, querystring: languageQuery } }, async (request, reply) =>
    signedIn(request, reply, { backTo: '/me' }, async (token, ctx, session) => {
      const list = await selfService.listMethods(token);
      const { account } = await selfService.session(token, { forRegistration: true });
      const policy = deps.policy();
      const tier = resolveTier(policy, account.groups, account.directoryPrivileged);
      const allowed = tier === 'break_glass' ? [] : policy.tiers[tier].allowedMethods;
      const flash = flashes.take(request, reply, session);
      const questions = policy.methods.security_questions.enabled ? { catalogue: policy.methods.security_questions.questions, answersRequired: policy.methods.security_questions.answersRequired } : null;
      return sendPage(reply, methodsPage(ctx, { methods: list.methods, required: list.required, missing: list.missing, allowed, questions, due: list.reconfirmation.due, now: latchkey.deps.clock.now() }, errorsOf(ctx, flash), noticeOf(flash)));
    }),
  );

  typed.post(
    '/me/add',
    {
      schema: {
        hide: true,
        body: z
          .object({ _csrf: csrfField, method: z.enum([...ADDABLE_METHODS, 'security_questions']), address: z.string().max(256).optional(), phone: z.string().max(32).optional(), ...QUESTION_FIELDS })
          .strict(),
      },
    },
    async (request, reply) =>
      signedIn(request, reply, { csrf: request.body._csrf, backTo: '/me' }, async (token, ctx, session) => {
        const { method, address, phone } = request.body;
        const input = method === 'email_code' ? { address: address ?? '' } : method === 'sms_code' ? { phone: phone ?? '' } : method === 'security_questions' ? { answers: questionAnswers(request.body) } : {};
        const added = await selfService.addMethod(token, method, input, requestContext(request));
        const shown = added.shownOnce ?? {};
        // Shown once: rendered in this reply (no-store), never behind a URL that could be reloaded later.
        if (method === 'totp') return sendPage(reply, totpSetupPage(ctx, added.enrollment.id, String(shown['secret']), String(shown['otpauthUri'])));
        if (method === 'webauthn') return sendPage(reply, passkeySetupPage(ctx, added.enrollment.id, JSON.parse(String(shown['publicKey'])) as unknown));
        if (method === 'recovery_code') return sendPage(reply, recoveryCodesPage(ctx, Array.isArray(shown['codes']) ? shown['codes'] : []));
        if (method === 'security_questions') {
          flashes.set(reply, session, { notice: 'added' });
          return seeOther(reply, '/me');
        }
        return seeOther(reply, `/me/methods/${added.enrollment.id}/verify`);
      }),
  );

  // The pages a POST to /me/add renders have language links to this path: show the list again.
  typed.get('/me/add', { schema: { hide: true, querystring: languageQuery } }, async (request, reply) => {
    contextOf(request, reply);
    return seeOther(reply, '/me');
  });

  typed.get('/me/methods/:id/verify', { schema: { hide: true, params: enrollmentParam, querystring: languageQuery } }, async (request, reply) =>
    signedIn(request, reply, { backTo: '/me' }, async (token, ctx, session) => {
      const pending = (await selfService.listMethods(token)).methods.find((method) => method.id === request.params.id && method.status === 'pending');
      if (!pending || (pending.method !== 'totp' && pending.method !== 'email_code' && pending.method !== 'sms_code')) throw new DomainError('enrollment.not_found');
      return sendPage(reply, verifyPage(ctx, pending.id, pending.method, errorsOf(ctx, flashes.take(request, reply, session))));
    }),
  );

  typed.post(
    '/me/methods/:id/verify',
    { schema: { hide: true, params: enrollmentParam, body: z.object({ _csrf: csrfField, code: z.string().max(64).optional(), credential: z.string().max(12_000).optional() }).strict() } },
    async (request, reply) => {
      const backTo = `/me/methods/${request.params.id}/verify`;
      return signedIn(request, reply, { csrf: request.body._csrf, backTo: request.body.credential !== undefined ? '/me' : backTo }, async (token, _ctx, session) => {
        const answer: ChallengeAnswer | null = request.body.code ? { code: request.body.code.trim() } : parseCredential(request.body.credential);
        if (answer === null) throw new DomainError('challenge.invalid');
        await selfService.verifyMethod(token, request.params.id, answer, requestContext(request));
        flashes.set(reply, session, { notice: 'added' });
        return seeOther(reply, '/me');
      });
    },
  );

  typed.post('/me/methods/:id/remove', { schema: { hide: true, params: enrollmentParam, body: z.object({ _csrf: csrfField }).strict() } }, async (request, reply) =>
    signedIn(request, reply, { csrf: request.body._csrf, backTo: '/me' }, async (token, _ctx, session) => {
      await selfService.removeMethod(token, request.params.id, requestContext(request));
      flashes.set(reply, session, { notice: 'removed' });
      return seeOther(reply, '/me');
    }),
  );

  registerTravelPages(pages, latchkey, kit, signedIn);
  registerReconfirmPages(pages, latchkey, kit, signedIn);
}
