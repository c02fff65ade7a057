import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import { hasZodFastifySchemaValidationErrors, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DomainError, isDomainError, type ErrorCode } from '../../core/errors.ts';
import type { FlowView } from '../../core/flows/recovery/service.ts';
import { METHOD_IDS } from '../../core/methods/method-ids.ts';
import type { ChallengeAnswer } from '../../core/methods/method.ts';
import type { PasswordRules } from '../../core/policy/schema.ts';
import type { Latchkey } from '../compose.ts';
import { BODY_LIMIT_BYTES, requestContext } from '../http/app.ts';
import { sendProblem, STATUS_BY_CODE } from '../http/problem.ts';
import { holdStartFloor, identifierField, passwordField } from '../http/routes/recovery.ts';
import { CATALOGS, LANGUAGES, negotiateLanguage, parseLanguage, translator, type Language, type MessageKey } from './i18n/catalog.ts';
import { cookieNames, cookieOptions, FlashCookie, HSTS, PAGE_CSP, PageSessions, type Flash } from './page-security.ts';
import { servedOverTls } from './portal-config.ts';
import { registerAdminConsole } from './admin/console.ts';
import { parseCredential, registerMePages } from './me/routes.ts';
import {
  codePage,
  donePage,
  homePage,
  methodPage,
  passwordPage,
  problemPage,
  RULE_OF_REASON,
  slugOf,
  startPage,
  unlockPage,
  type PageContext,
  type PageErrors,
  type PurposeSlug,
} from './views.ts';

const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));
const LOGO_TYPES: Readonly<Record<string, string>> = { '.png': 'image/png', '.svg': 'image/svg+xml', '.webp': 'image/webp' };
const PASSWORD_CHECK_PATH = '/forgot/password/check';
const PURPOSE_OF: Readonly<Record<PurposeSlug, 'reset' | 'unlock'>> = { forgot: 'reset', unlock: 'unlock' };

/** Problems after which a person cannot go on alone: the helpdesk is shown prominently. */
const STUCK = new Set(['exhausted', 'rate.limited', 'self_service.unavailable', 'directory.unavailable', 'dependency.unavailable', 'internal', 'flow.expired']);

/** Errors that end the flow: its cookie is dropped and the person starts again. */
const FLOW_ENDED = new Set<ErrorCode>(['flow.not_found', 'flow.expired']);

const languageQuery = z.object({ lang: z.enum(LANGUAGES).optional() }).strict();
const csrfField = z.string().max(256).optional();
const optionalText = (max: number) => z.string().max(max).optional();

/**
 * Form bodies, for page routes only. SECURITY: one value per name — a repeated name, `name[]` or a
 * prototype key is refused like any other parameter pollution (INP-1, INP-5); each route's zod
 * schema is strict about which names exist.
 */
function parseForm(text: string): Record<string, string> {
  const form: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(text)) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') throw new DomainError('request.invalid', `The field '${key}' is not allowed.`);
    if (Object.prototype.hasOwnProperty.call(form, key)) throw new DomainError('request.invalid', `The field '${key.slice(0, 64)}' appears more than once.`);
    form[key] = value;
  }
  return form;
}

/** Where a flow at this step continues. */
function stepPath(view: FlowView): string {
  const slug = slugOf(view.purpose);
  switch (view.step) {
    case 'awaiting_method_choice':
      return `/${slug}/method`;
    case 'awaiting_challenge_answer':
      return `/${slug}/code`;
    case 'awaiting_new_password':
      return '/forgot/password';
    case 'awaiting_unlock_confirmation':
      return '/unlock/confirm';
    default:
      return `/${slug}`;
  }
}

const seeOther = (reply: FastifyReply, path: string): FastifyReply => reply.code(303).header('location', path).send();

/**
 * The self-service portal: server-rendered pages for Forgot password and Unlock my account. They
 * are thin shells over the RecoveryService the JSON API uses; the flow token lives only in an
 * HttpOnly cookie, forms post back and redirect (POST-redirect-GET), and a small external script
 * adds live password feedback. See docs/portal.md.
 */
export async function registerPortal(app: FastifyInstance, latchkey: Latchkey): Promise<void> {
  const { config, recovery, deps } = latchkey;
  const portal = config.portal;
  const secure = servedOverTls(portal);
  const names = cookieNames(secure);
  const sessions = new PageSessions(deps.secrets, deps.random, names, secure);
  const flashes = new FlashCookie(deps.secrets, names, secure);
  const organisation = portal.branding.organisationName ?? deps.policy().organisationName;
  const logo = portal.branding.logoFile ? await loadLogo(portal.branding.logoFile) : null;
  const brandCss = [
    ':root {',
    `  --brand-primary: ${portal.branding.primaryColour};`,
    `  --brand-on-primary: ${portal.branding.primaryTextColour};`,
    `  --brand-header: ${portal.branding.headerColour};`,
    `  --brand-on-header: ${portal.branding.headerTextColour};`,
    '}',
    '',
  ].join('\n');

  await app.register(async (pages) => {
    const typed = pages.withTypeProvider<ZodTypeProvider>();
    await pages.register(cookie);
    await pages.register(fastifyStatic, { root: ASSETS_DIR, prefix: '/assets/', decorateReply: false, index: false, dotfiles: 'deny' });
    pages.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES }, (_request, body, done) => {
      try {
        done(null, parseForm(typeof body === 'string' ? body : body.toString('utf8')));
      } catch (error) {
        done(isDomainError(error) ? error : new DomainError('request.invalid', 'The form could not be read.'), undefined);
      }
    });

    pages.addHook('onSend', async (_request, reply, payload) => {
      void reply.header('content-security-policy', PAGE_CSP);
      void reply.header('cross-origin-opener-policy', 'same-origin');
      // SECURITY: flow pages and their JSON carry flow state; nothing of them may be cached (SESS-6).
      void reply.header('cache-control', 'no-store');
      if (secure) void reply.header('strict-transport-security', HSTS);
      return payload;
    });

    const languageOf = (request: FastifyRequest, reply: FastifyReply): Language => {
      const asked = parseLanguage((request.query as { lang?: unknown } | undefined)?.lang);
      if (asked) {
        void reply.setCookie(names.language, asked, cookieOptions(secure, 365 * 24 * 3600));
        return asked;
      }
      return parseLanguage(request.cookies[names.language]) ?? negotiateLanguage(request.headers['accept-language']) ?? portal.defaultLanguage;
    };

    const contextOf = (request: FastifyRequest, reply: FastifyReply): { ctx: PageContext; session: string } => {
      const session = sessions.ensure(request, reply);
      const language = languageOf(request, reply);
      return {
        session,
        ctx: {
          t: translator(language),
          language,
          csrf: sessions.csrfToken(session),
          path: request.url.split('?')[0] ?? '/',
          organisation,
          hasLogo: logo !== null,
          helpdesk: portal.helpdesk,
        },
      };
    };

    const sendPage = (reply: FastifyReply, page: string, status = 200): FastifyReply => reply.code(status).type('text/html; charset=utf-8').send(page);

    /** Turns a flash (codes only) into messages in the page's language. */
    const errorsOf = (ctx: PageContext, flash: Flash | null, rules?: Pick<PasswordRules, 'minLength' | 'maxLength'>): PageErrors => {
      if (!flash?.error) return { items: [], stuck: false };
      const key = `error.${flash.error}`;
      const known = (Object.hasOwn(CATALOGS.en, key) ? key : 'error.request.invalid') as MessageKey;
      let message = ctx.t(known, { reference: flash.reference ?? '' });
      if (flash.attempts !== undefined) message += ` ${flash.attempts === 1 ? ctx.t('error.attempts.one') : ctx.t('error.attempts.other', { count: flash.attempts })}`;
      const limits = { min: rules?.minLength ?? '', max: rules?.maxLength ?? '' };
      const details = (flash.reasons ?? [])
        .map((code) => `reason.${code}`)
        .filter((reasonKey): reasonKey is MessageKey => Object.hasOwn(CATALOGS.en, reasonKey))
        .map((reasonKey) => ctx.t(reasonKey, limits));
      return { items: [{ message, field: flash.field, details }], stuck: STUCK.has(flash.error) };
    };

    /** A flow error on a page load or a form post, answered the way the person can act on. */
    const answerDomainError = (request: FastifyRequest, reply: FastifyReply, ctx: PageContext, session: string, slug: PurposeSlug, error: DomainError, backTo: string | null): FastifyReply => {
      if (FLOW_ENDED.has(error.code)) {
        void reply.clearCookie(names.flow, cookieOptions(secure));
        flashes.set(reply, session, { error: error.code });
        return seeOther(reply, `/${slug}`);
      }
      const field = error.code.startsWith('password.') ? 'password' : error.code.startsWith('method.') ? 'method' : undefined;
      if (request.method === 'POST' && backTo !== null && error.code !== 'rate.limited') {
        flashes.set(reply, session, { error: error.code, ...(field ? { field } : {}) });
        return seeOther(reply, backTo);
      }
      return sendPage(reply, problemPage(ctx, errorsOf(ctx, { error: error.code }), `/${slug}`), STATUS_BY_CODE[error.code]);
    };

    /** Loads the flow of the cookie for a step page; redirects when there is none or it is elsewhere. */
    const showStep = async (
      request: FastifyRequest,
      reply: FastifyReply,
      slug: PurposeSlug,
      steps: readonly string[],
      render: (ctx: PageContext, view: FlowView, flash: Flash | null) => Promise<string> | string,
    ): Promise<FastifyReply> => {
      const { ctx, session } = contextOf(request, reply);
      const token = request.cookies[names.flow];
      if (token === undefined) return answerDomainError(request, reply, ctx, session, slug, new DomainError('flow.not_found'), null);
      let view: FlowView;
      try {
        view = await recovery.describe(token, requestContext(request));
      } catch (error) {
        if (isDomainError(error)) return answerDomainError(request, reply, ctx, session, slug, error, null);
        throw error;
      }
      if (view.purpose !== PURPOSE_OF[slug] || !steps.includes(view.step)) return seeOther(reply, stepPath(view));
      try {
        return sendPage(reply, await render(ctx, view, flashes.take(request, reply, session)));
      } catch (error) {
        if (isDomainError(error)) return answerDomainError(request, reply, ctx, session, slug, error, null);
        throw error;
      }
    };

    /** Runs a form post on the flow of the cookie, after the CSRF check. */
    const postStep = async (
      request: FastifyRequest,
      reply: FastifyReply,
      slug: PurposeSlug,
      backTo: string,
      submittedCsrf: string | undefined,
      action: (token: string, session: string) => Promise<FastifyReply>,
    ): Promise<FastifyReply> => {
      const { ctx, session } = contextOf(request, reply);
      if (!sessions.verify(request, submittedCsrf)) return sendPage(reply, problemPage(ctx, { items: [{ message: ctx.t('error.csrf') }], stuck: false }, backTo), 403);
      const token = request.cookies[names.flow];
      try {
        if (token === undefined) throw new DomainError('flow.not_found');
        return await action(token, session);
      } catch (error) {
        if (isDomainError(error)) return answerDomainError(request, reply, ctx, session, slug, error, backTo);
        throw error;
      }
    };

    pages.setErrorHandler((error, request, reply) => {
      const code: ErrorCode = hasZodFastifySchemaValidationErrors(error)
        ? 'request.invalid'
        : isDomainError(error)
          ? error.code
          : (error as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE'
            ? 'request.too_large'
            : (error as { code?: string }).code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
              ? 'request.unsupported_media_type'
              : typeof (error as { statusCode?: number }).statusCode === 'number' && ((error as { statusCode: number }).statusCode ?? 500) < 500
                ? 'request.invalid'
                : 'internal';
      if (code === 'internal') request.log.error({ err: error, reqId: request.id }, 'unhandled error');
      if (request.routeOptions.url === PASSWORD_CHECK_PATH) {
        return sendProblem(reply, code, code === 'internal' ? 'Something went wrong on our side.' : 'The request could not be processed.', code === 'internal' ? { correlationId: request.id } : {});
      }
      const { ctx } = contextOf(request, reply);
      const flash: Flash = code === 'internal' ? { error: code, reference: request.id } : { error: code };
      return sendPage(reply, problemPage(ctx, errorsOf(ctx, flash), '/'), STATUS_BY_CODE[code]);
    });

    typed.get('/', { schema: { hide: true, querystring: languageQuery } }, async (request, reply) => sendPage(reply, homePage(contextOf(request, reply).ctx)));
    await registerAdminConsole(pages, latchkey, { secure, organisation, hasLogo: logo !== null });
    registerMePages(pages, latchkey, { contextOf, sendPage, errorsOf, sessions, flashes, names, secure });

    typed.get('/brand/brand.css', { schema: { hide: true } }, async (_request, reply) => reply.type('text/css; charset=utf-8').send(brandCss));
    if (logo) typed.get('/brand/logo', { schema: { hide: true } }, async (_request, reply) => reply.type(logo.type).send(logo.bytes));

    for (const slug of ['forgot', 'unlock'] as const) {
      const purpose = PURPOSE_OF[slug];

      typed.get(`/${slug}`, { schema: { hide: true, querystring: languageQuery } }, async (request, reply) => {
        const { ctx, session } = contextOf(request, reply);
        return sendPage(reply, startPage(ctx, slug, errorsOf(ctx, flashes.take(request, reply, session))));
      });

      typed.post(
        `/${slug}`,
        { schema: { hide: true, body: z.object({ _csrf: csrfField, identifier: z.union([z.literal(''), identifierField]) }).strict() } },
        async (request, reply) => {
          const receivedAt = performance.now();
          const { ctx, session } = contextOf(request, reply);
          if (!sessions.verify(request, request.body._csrf)) return sendPage(reply, problemPage(ctx, { items: [{ message: ctx.t('error.csrf') }], stuck: false }, `/${slug}`), 403);
          if (request.body.identifier === '') {
            flashes.set(reply, session, { error: 'identifier.required', field: 'identifier' });
            return seeOther(reply, `/${slug}`);
          }
          try {
            const started = await recovery.start({ identifier: request.body.identifier, purpose }, requestContext(request));
            await holdStartFloor(receivedAt, config.startResponseFloorMs);
            void reply.setCookie(names.flow, started.flowToken, cookieOptions(secure));
            return seeOther(reply, stepPath(started.view));
          } catch (error) {
            if (isDomainError(error)) return answerDomainError(request, reply, ctx, session, slug, error, `/${slug}`);
            throw error;
          }
        },
      );

      typed.get(`/${slug}/method`, { schema: { hide: true, querystring: languageQuery } }, async (request, reply) =>
        showStep(request, reply, slug, ['awaiting_method_choice', 'awaiting_challenge_answer'], (ctx, view, flash) => methodPage(ctx, view, errorsOf(ctx, flash))),
      );

      typed.post(
        `/${slug}/method`,
        { schema: { hide: true, body: z.object({ _csrf: csrfField, method: z.enum(METHOD_IDS).optional() }).strict() } },
        async (request, reply) =>
          postStep(request, reply, slug, `/${slug}/method`, request.body._csrf, async (token, session) => {
            const { method } = request.body;
            if (method === undefined) {
              flashes.set(reply, session, { error: 'method.required', field: 'method' });
              return seeOther(reply, `/${slug}/method`);
            }
            const result = await recovery.chooseMethod(token, method, requestContext(request));
            return seeOther(reply, stepPath(result.view));
          }),
      );

      typed.get(`/${slug}/code`, { schema: { hide: true, querystring: languageQuery } }, async (request, reply) =>
        showStep(request, reply, slug, ['awaiting_challenge_answer'], (ctx, view, flash) => codePage(ctx, view, errorsOf(ctx, flash))),
      );

      typed.post(
        `/${slug}/code`,
        {
          schema: {
            hide: true,
            body: z
              .object({ _csrf: csrfField, code: optionalText(64), answer_1: optionalText(256), answer_2: optionalText(256), answer_3: optionalText(256), answer_4: optionalText(256), answer_5: optionalText(256), credential: optionalText(12_000) })
              .strict(),
          },
        },
        async (request, reply) =>
          postStep(request, reply, slug, `/${slug}/code`, request.body._csrf, async (token, session) => {
            const { body } = request;
            const answers = [body.answer_1, body.answer_2, body.answer_3, body.answer_4, body.answer_5].filter((value): value is string => value !== undefined && value !== '');
            const answer: ChallengeAnswer | null = body.code ? { code: body.code.trim() } : answers.length > 0 ? { answers } : parseCredential(body.credential);
            if (answer === null) {
              flashes.set(reply, session, { error: 'code.required', field: 'code' });
              return seeOther(reply, `/${slug}/code`);
            }
            const result = await recovery.answer(token, answer, requestContext(request));
            if (result.flowToken) void reply.setCookie(names.flow, result.flowToken, cookieOptions(secure));
            if (result.outcome === 'challenge_failed') {
              flashes.set(reply, session, { error: 'challenge.invalid', field: 'code', ...(result.attemptsRemaining !== undefined ? { attempts: result.attemptsRemaining } : {}) });
              return seeOther(reply, `/${slug}/code`);
            }
            if (result.outcome === 'challenge_exhausted') {
              flashes.set(reply, session, { error: 'exhausted' });
              return seeOther(reply, `/${slug}/method`);
            }
            return seeOther(reply, stepPath(result.view));
          }),
      );

      typed.get(`/${slug}/done`, { schema: { hide: true, querystring: languageQuery } }, async (request, reply) => {
        const { ctx, session } = contextOf(request, reply);
        const flash = flashes.take(request, reply, session);
        // Only the browser that just finished sees this page: the flash is bound to its session.
        if (flash?.done !== purpose) return seeOther(reply, '/');
        // The language links must not lose the notice: keep it for one more view.
        flashes.set(reply, session, { done: purpose });
        return sendPage(reply, donePage(ctx, purpose));
      });
    }

    typed.get('/forgot/password', { schema: { hide: true, querystring: languageQuery } }, async (request, reply) =>
      showStep(request, reply, 'forgot', ['awaiting_new_password'], async (ctx, _view, flash) => {
        const review = await recovery.reviewNewPassword(request.cookies[names.flow] ?? '', null, requestContext(request));
        return passwordPage(ctx, review.view, review.rules, errorsOf(ctx, flash, review.rules));
      }),
    );

    typed.post(
      '/forgot/password',
      { schema: { hide: true, body: z.object({ _csrf: csrfField, password: passwordField, confirmPassword: passwordField }).strict() } },
      async (request, reply) =>
        postStep(request, reply, 'forgot', '/forgot/password', request.body._csrf, async (token, session) => {
          const { password, confirmPassword } = request.body;
          if (password === '' || confirmPassword === '') {
            flashes.set(reply, session, { error: 'password.required', field: 'password' });
            return seeOther(reply, '/forgot/password');
          }
          const result = await recovery.setPassword(token, { password, confirmPassword }, requestContext(request));
          if (result.outcome === 'ok') {
            void reply.clearCookie(names.flow, cookieOptions(secure));
            flashes.set(reply, session, { done: 'reset' });
            return seeOther(reply, '/forgot/done');
          }
          if (result.outcome === 'expired') throw new DomainError('flow.expired');
          // The engine refused it; the review names the rules by code so the page can say it in the person's language.
          const review = await recovery.reviewNewPassword(token, password, requestContext(request));
          const reasons = review.reasons.map((reason) => reason.code);
          flashes.set(reply, session, { error: reasons.length > 0 ? 'password.policy' : 'password.directory_refused', reasons, field: 'password' });
          return seeOther(reply, '/forgot/password');
        }),
    );

    typed.post(
      PASSWORD_CHECK_PATH,
      { schema: { hide: true, body: z.object({ password: passwordField }).strict() } },
      async (request, reply) => {
        const { ctx } = contextOf(request, reply);
        const header = request.headers['x-csrf-token'];
        if (!sessions.verify(request, typeof header === 'string' ? header : undefined)) {
          return sendProblem(reply, 'auth.forbidden', 'Send the page’s CSRF token in an X-CSRF-Token header.');
        }
        const token = request.cookies[names.flow];
        if (token === undefined) return sendProblem(reply, 'flow.not_found', 'There is no flow in this browser.');
        const review = await recovery.reviewNewPassword(token, request.body.password, requestContext(request));
        const limits = { min: review.rules.minLength, max: review.rules.maxLength };
        return reply.send({
          ok: review.reasons.length === 0,
          reasons: review.reasons.map((reason) => ({ code: reason.code, rule: RULE_OF_REASON[reason.code] ?? reason.code, message: ctx.t(`reason.${reason.code}`, limits) })),
        });
      },
    );

    typed.get('/unlock/confirm', { schema: { hide: true, querystring: languageQuery } }, async (request, reply) =>
      showStep(request, reply, 'unlock', ['awaiting_unlock_confirmation'], (ctx, view, flash) => unlockPage(ctx, view, errorsOf(ctx, flash))),
    );

    typed.post('/unlock/confirm', { schema: { hide: true, body: z.object({ _csrf: csrfField }).strict() } }, async (request, reply) =>
      postStep(request, reply, 'unlock', '/unlock/confirm', request.body._csrf, async (token, session) => {
        const result = await recovery.confirmUnlock(token, requestContext(request));
        if (result.outcome !== 'ok') throw new DomainError('flow.expired');
        void reply.clearCookie(names.flow, cookieOptions(secure));
        flashes.set(reply, session, { done: 'unlock' });
        return seeOther(reply, '/unlock/done');
      }),
    );
  });
}

/** Reads the configured logo once at start; a missing or unreadable file is a start-up error naming the key. */
async function loadLogo(file: string): Promise<{ bytes: Buffer; type: string }> {
  // The configuration schema admits only these extensions.
  const type = LOGO_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
  try {
    return { bytes: await readFile(file), type };
  } catch (error) {
    throw new Error(`portal.branding.logoFile: cannot read ${file}: ${(error as Error).message}`);
  }
}
