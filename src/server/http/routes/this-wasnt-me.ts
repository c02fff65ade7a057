import { z } from 'zod';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { asAccountId } from '../../../core/account/ids.ts';
import { auditActor } from '../../../core/admin/principal.ts';
import { ADMIN_REASON_MAX_CHARS } from '../../../core/admin/account-actions.ts';
import { DomainError, isDomainError } from '../../../core/errors.ts';
import type { Latchkey } from '../../compose.ts';
import { BODY_LIMIT_BYTES, requestContext, requireBearer } from '../app.ts';
import { webauthnCredentialField } from './recovery.ts';
import { negotiateLanguage, parseLanguage, translator, type Language } from '../../pages/i18n/catalog.ts';
import { cookieNames, HSTS, PAGE_CSP, PageSessions } from '../../pages/page-security.ts';
import { servedOverTls } from '../../pages/portal-config.ts';
import { layout, type PageContext } from '../../pages/views.ts';
import { html } from '../../pages/html.ts';

const DISPUTE_PREFIX = '/this-wasnt-me/';
const tokenParam = z.object({ token: z.string().min(1).max(64) }).strict();
const enrollmentIdParam = z.object({ id: z.uuid('the method id is a UUID') }).strict();
const sessionSecurity = [{ bearer: [] }];

/**
 * A request URL fit for logs: the token of a "this wasn't me" link is replaced, so whoever reads
 * the access log cannot follow a link someone else was sent (LOG-3).
 */
export function redactDisputeUrl(url: string): string {
  return url.startsWith(DISPUTE_PREFIX) ? `${DISPUTE_PREFIX}[redacted]` : url;
}

/** The one form field of the confirmation page; a repeated or unknown field is refused (INP-1). */
function parseConfirmForm(text: string): Record<string, string> {
  const form: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(text)) {
    if (key !== '_csrf' || Object.prototype.hasOwnProperty.call(form, key)) throw new DomainError('request.invalid', 'The form could not be read.');
    form[key] = value;
  }
  return form;
}

/**
 * "This wasn't me" (the link in every method-change notice), the admin's unfreeze, and
 * re-confirmation of a method. SECURITY: the link's GET only shows what happened and a button;
 * only the POST, with the page session's CSRF token, acts, because mail scanners and link previews
 * open every link in a message (and would otherwise dispute every change).
 */
export async function registerMethodLifecycleRoutes(app: FastifyInstance, latchkey: Latchkey): Promise<void> {
  const { config, deps, selfService, adminAuth, lifecycle } = latchkey;
  const typed = app.withTypeProvider<ZodTypeProvider>();

  typed.post(
    '/api/admin/accounts/:id/unfreeze',
    {
      config: { adminPermission: 'accounts:write' },
      schema: {
        tags: ['admin'],
        summary: 'Lift the self-service freeze a disputed method change put on an account (permission accounts:write).',
        security: sessionSecurity,
        params: z.object({ id: z.string().min(1).max(200) }).strict(),
        body: z.object({ reason: z.string().trim().min(1, 'say why, in a few words').max(ADMIN_REASON_MAX_CHARS) }).strict(),
      },
    },
    async (request) => {
      const principal = await adminAuth.require(request, 'accounts:write');
      const unfrozen = await lifecycle.unfreeze(asAccountId(request.params.id), auditActor(principal), request.body.reason, requestContext(request));
      return { unfrozen };
    },
  );

  typed.post(
    '/api/me/methods/:id/reconfirm',
    {
      schema: {
        tags: ['self-service'],
        summary: 'Start re-confirming a method: a fresh code goes to the address or phone (an authenticator app shows its own).',
        security: sessionSecurity,
        params: enrollmentIdParam,
        body: z.object({}).strict().optional(),
      },
    },
    async (request, reply) => reply.code(201).send(await selfService.beginReconfirmation(requireBearer(request), request.params.id, requestContext(request))),
  );

  typed.post(
    '/api/me/methods/:id/reconfirm/verify',
    {
      schema: {
        tags: ['self-service'],
        summary: 'Confirm the method with the code (a passkey: with the credential for the returned publicKey options): it counts as confirmed from now on.',
        security: sessionSecurity,
        params: enrollmentIdParam,
        body: z.union([z.object({ reconfirmationId: z.uuid(), code: z.string().min(1).max(64) }).strict(), z.object({ reconfirmationId: z.uuid(), credential: webauthnCredentialField }).strict()]),
      },
    },
    async (request) => ({
      enrollment: await selfService.completeReconfirmation(
        requireBearer(request),
        request.params.id,
        request.body.reconfirmationId,
        'code' in request.body ? request.body.code : { credential: request.body.credential },
        requestContext(request),
      ),
    }),
  );

  const secure = servedOverTls(config.portal);
  const sessions = new PageSessions(deps.secrets, deps.random, cookieNames(secure), secure);
  const organisation = config.portal.branding.organisationName ?? deps.policy().organisationName;

  await app.register(async (pages) => {
    const page = pages.withTypeProvider<ZodTypeProvider>();
    await pages.register(cookie);
    pages.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES }, (_request, body, done) => {
      try {
        done(null, parseConfirmForm(typeof body === 'string' ? body : body.toString('utf8')));
      } catch (error) {
        done(isDomainError(error) ? error : new DomainError('request.invalid'), undefined);
      }
    });
    pages.addHook('onSend', async (_request, reply, payload) => {
      void reply.header('content-security-policy', PAGE_CSP);
      void reply.header('cross-origin-opener-policy', 'same-origin');
      void reply.header('cache-control', 'no-store');
      if (secure) void reply.header('strict-transport-security', HSTS);
      return payload;
    });

    const contextOf = (request: FastifyRequest, reply: FastifyReply): PageContext => {
      const language: Language = parseLanguage((request.query as { lang?: unknown } | undefined)?.lang) ?? parseLanguage(request.cookies[cookieNames(secure).language]) ?? negotiateLanguage(request.headers['accept-language']) ?? config.portal.defaultLanguage;
      const session = sessions.ensure(request, reply);
      // The page's own path carries the token; the language links must not repeat it anywhere else.
      return { t: translator(language), language, csrf: sessions.csrfToken(session), path: request.url.split('?')[0] ?? '/', organisation, hasLogo: false, helpdesk: config.portal.helpdesk };
    };
    const sendPage = (reply: FastifyReply, body: string, status = 200): FastifyReply => reply.code(status).type('text/html; charset=utf-8').send(body);
    const invalidPage = (ctx: PageContext): string => layout(ctx, ctx.t('dispute.invalid.title'), html`<p>${ctx.t('dispute.invalid.body')}</p>`, undefined, { helpdesk: true });

    page.get(`${DISPUTE_PREFIX}:token`, { schema: { hide: true, params: tokenParam } }, async (request, reply) => {
      const ctx = contextOf(request, reply);
      const preview = await lifecycle.preview(request.params.token);
      if (!preview.valid) return sendPage(reply, invalidPage(ctx), 410);
      const when = preview.changedAt.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
      const main = html`<p>${ctx.t('dispute.intro', { date: when })}</p>
<p>${ctx.t('dispute.explain')}</p>
<form method="post" action="${ctx.path}" novalidate>
<input type="hidden" name="_csrf" value="${ctx.csrf}">
<button type="submit" class="button">${ctx.t('dispute.submit')}</button>
</form>`;
      return sendPage(reply, layout(ctx, ctx.t('dispute.title'), main, undefined, { helpdesk: true }));
    });

    page.post(`${DISPUTE_PREFIX}:token`, { schema: { hide: true, params: tokenParam, body: z.object({ _csrf: z.string().max(256).optional() }).strict() } }, async (request, reply) => {
      const ctx = contextOf(request, reply);
      if (!sessions.verify(request, request.body._csrf)) {
        return sendPage(reply, layout(ctx, ctx.t('dispute.title'), html`<p><a href="${ctx.path}">${ctx.t('dispute.title')}</a></p>`, { items: [{ message: ctx.t('error.csrf') }], stuck: false }), 403);
      }
      try {
        await lifecycle.dispute(request.params.token, requestContext(request));
      } catch (error) {
        if (isDomainError(error) && error.code === 'dispute.link_invalid') return sendPage(reply, invalidPage(ctx), 410);
        throw error;
      }
      return sendPage(reply, layout(ctx, ctx.t('dispute.done.title'), html`<p>${ctx.t('dispute.done.body')}</p>`, undefined, { helpdesk: true }));
    });
  });
}
