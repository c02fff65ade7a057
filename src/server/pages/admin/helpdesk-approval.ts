import { z } from 'zod';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { isDomainError } from '../../../core/errors.ts';
import type { Latchkey } from '../../compose.ts';
import { requestContext } from '../../http/app.ts';
import { html } from '../html.ts';
import { LANGUAGES, negotiateLanguage, parseLanguage, translator } from '../i18n/catalog.ts';
import { cookieNames, PageSessions } from '../page-security.ts';
import { layout, type PageContext } from '../views.ts';
import type { ConsoleShell } from './console.ts';

/** Where the manager's approval page lives; the mailed JSON link sends a browser here. */
export const APPROVAL_PAGE_PREFIX = '/helpdesk/approvals/';

const tokenParams = z.object({ token: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'is not an approval link token') }).strict();
const languageQuery = z.object({ lang: z.enum(LANGUAGES).optional() }).strict();

/**
 * The manager's approval link as a page: GET says whose pass it is for and until when, with an
 * Approve button; only the POST, carrying the page session's CSRF token, approves. SECURITY: mail
 * scanners and link previews open every link in a message, so a GET must never approve, and a
 * cross-site form cannot approve on the manager's behalf (WEB-3). Registered inside the portal's
 * page plugin, so it has the portal's CSP, cookies and form parser.
 */
export function registerApprovalPage(pages: FastifyInstance, latchkey: Latchkey, shell: ConsoleShell): void {
  const typed = pages.withTypeProvider<ZodTypeProvider>();
  const { helpdesk, config, deps } = latchkey;
  const names = cookieNames(shell.secure);
  const sessions = new PageSessions(deps.secrets, deps.random, names, shell.secure);

  const contextOf = (request: FastifyRequest, reply: FastifyReply): PageContext => {
    const language = parseLanguage((request.query as { lang?: unknown } | undefined)?.lang) ?? parseLanguage(request.cookies[names.language]) ?? negotiateLanguage(request.headers['accept-language']) ?? config.portal.defaultLanguage;
    const session = sessions.ensure(request, reply);
    return { t: translator(language), language, csrf: sessions.csrfToken(session), path: request.url.split('?')[0] ?? '/', organisation: shell.organisation, hasLogo: shell.hasLogo, helpdesk: config.portal.helpdesk };
  };
  const sendPage = (reply: FastifyReply, body: string, status = 200): FastifyReply => reply.code(status).type('text/html; charset=utf-8').send(body);
  const invalidPage = (ctx: PageContext): string => layout(ctx, ctx.t('approval.invalid.title'), html`<p>${ctx.t('approval.invalid.body')}</p>`);
  // A used, expired or unknown link all read the same: the page says it no longer works.
  const isInvalid = (error: unknown): boolean => isDomainError(error) && error.code === 'helpdesk.approval_invalid';

  typed.get(`${APPROVAL_PAGE_PREFIX}:token`, { schema: { hide: true, params: tokenParams, querystring: languageQuery } }, async (request, reply) => {
    const ctx = contextOf(request, reply);
    let approval: Awaited<ReturnType<typeof helpdesk.describeApproval>>;
    try {
      approval = await helpdesk.describeApproval(request.params.token);
    } catch (error) {
      if (isInvalid(error)) return sendPage(reply, invalidPage(ctx), 410);
      throw error;
    }
    const expires = approval.expiresAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
    const main = html`<p>${ctx.t('approval.intro', { username: approval.username })}</p>
<p>${ctx.t('approval.expires', { when: expires })}</p>
<p class="notice notice-info">${ctx.t('approval.warning')}</p>
<form method="post" action="${ctx.path}" novalidate>
<input type="hidden" name="_csrf" value="${ctx.csrf}">
<button type="submit" class="button" id="approve">${ctx.t('approval.submit')}</button>
</form>`;
    return sendPage(reply, layout(ctx, ctx.t('approval.title'), main));
  });

  typed.post(`${APPROVAL_PAGE_PREFIX}:token`, { schema: { hide: true, params: tokenParams, body: z.object({ _csrf: z.string().max(256).optional() }).strict() } }, async (request, reply) => {
    const ctx = contextOf(request, reply);
    if (!sessions.verify(request, request.body._csrf)) {
      return sendPage(reply, layout(ctx, ctx.t('approval.title'), html`<p><a href="${ctx.path}">${ctx.t('approval.title')}</a></p>`, { items: [{ message: ctx.t('error.csrf') }], stuck: false }), 403);
    }
    try {
      const approved = await helpdesk.approve(request.params.token, requestContext(request));
      return sendPage(reply, layout(ctx, ctx.t('approval.done.title'), html`<p id="approved">${ctx.t('approval.done.body', { username: approved.username })}</p>`));
    } catch (error) {
      if (isInvalid(error)) return sendPage(reply, invalidPage(ctx), 410);
      throw error;
    }
  });
}
