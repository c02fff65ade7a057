import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { can } from '../../../core/admin/principal.ts';
import { isDomainError } from '../../../core/errors.ts';
import type { Latchkey } from '../../compose.ts';
import { LANGUAGES, negotiateLanguage, parseLanguage, translator, type Language, type MessageKey } from '../i18n/catalog.ts';
import { cookieNames, cookieOptions } from '../page-security.ts';
import type { SafeHtml } from '../html.ts';
import { registerGovernancePages } from './governance.ts';
import { registerHelpdeskPages } from './helpdesk-console.ts';
import {
  accountMain,
  accountsMain,
  alertsMain,
  auditMain,
  CONSOLE_SECTIONS,
  consoleLayout,
  dashboardMain,
  messageMain,
  outboxMain,
  policyMain,
  signInMain,
  type ConsoleContext,
  type ConsoleSection,
  type ConsoleSectionId,
  type ConsoleSession,
} from './admin-views.ts';

/** What the portal hands the console: whether it is served over TLS and the branding. */
export interface ConsoleShell {
  readonly secure: boolean;
  readonly organisation: string;
  readonly hasLogo: boolean;
}

/** How a section's page differs from the default: its page id, title, extra `data-` attributes and its own script under /assets/. */
export interface ConsoleSectionView {
  readonly page?: string;
  readonly title?: MessageKey;
  readonly data?: (request: FastifyRequest) => Record<string, string>;
  readonly script?: string;
}
/** Builds the handler of a console section page (sign-in redirect, 403 page or the shell). */
export type ConsoleSectionHandler = (id: ConsoleSectionId, main: (ctx: ConsoleContext, session: ConsoleSession) => SafeHtml, view?: ConsoleSectionView) => (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>;

const languageQuery = z.object({ lang: z.enum(LANGUAGES).optional() }).strict();
const signInQuery = z.object({ lang: z.enum(LANGUAGES).optional(), reason: z.enum(['expired', 'signed_out']).optional() }).strict();
const accountParams = z.object({ id: z.string().min(1).max(200) }).strict();

/**
 * The admin console at /admin: server-rendered shells (navigation and actions per role) whose data
 * the console script loads from the same JSON admin API automation uses, with the session cookie and
 * the CSRF header. The shells show nothing but who is signed in; the API remains the real guard.
 * Registered inside the portal's plugin, so the pages get its CSP, cookies and headers. See docs/console.md.
 */
export async function registerAdminConsole(pages: FastifyInstance, latchkey: Latchkey, shell: ConsoleShell): Promise<void> {
  const typed = pages.withTypeProvider<ZodTypeProvider>();
  const { adminAuth, adminQueries } = latchkey;
  const languageCookie = cookieNames(shell.secure).language;
  // The dev outbox section exists only when a channel has no real provider: otherwise there is nothing to read there.
  const devOutbox = adminQueries.devOutboxChannels.length > 0;

  const languageOf = (request: FastifyRequest, reply: FastifyReply): Language => {
    const asked = parseLanguage((request.query as { lang?: unknown } | undefined)?.lang);
    if (asked) {
      void reply.setCookie(languageCookie, asked, cookieOptions(shell.secure, 365 * 24 * 3600));
      return asked;
    }
    return parseLanguage(request.cookies[languageCookie]) ?? negotiateLanguage(request.headers['accept-language']) ?? latchkey.config.portal.defaultLanguage;
  };

  const contextOf = (request: FastifyRequest, reply: FastifyReply): ConsoleContext => {
    const language = languageOf(request, reply);
    return { t: translator(language), language, path: request.url.split('?')[0] ?? '/admin', organisation: shell.organisation, hasLogo: shell.hasLogo };
  };

  /** The console session of the cookie: null without one, 'ended' when it has expired, idled out or lost its roles. */
  const sessionOf = async (request: FastifyRequest): Promise<ConsoleSession | null | 'ended'> => {
    const token = adminAuth.sessionCookie(request);
    if (token === null) return null;
    try {
      const principal = await adminAuth.principal(request);
      if (principal.kind !== 'admin_session') return 'ended';
      const sections = CONSOLE_SECTIONS.filter((section) => (section.permission === null || can(principal, section.permission)) && (section.id !== 'outbox' || devOutbox)).map((section) => section.id);
      return { principal, csrf: adminAuth.csrfToken(token), sections };
    } catch (error) {
      if (isDomainError(error) && error.code === 'auth.required') return 'ended';
      throw error;
    }
  };

  const sendPage = (reply: FastifyReply, page: string, status = 200): FastifyReply => reply.code(status).type('text/html; charset=utf-8').send(page);
  const seeOther = (reply: FastifyReply, path: string): FastifyReply => reply.code(303).header('location', path).send();

  /** Serves a section to a signed-in admin whose roles open it; otherwise sign-in (with why) or a 403 page. */
  const section: ConsoleSectionHandler = (id, main, view = {}) => async (request, reply) => {
    const session = await sessionOf(request);
    if (session === null) return seeOther(reply, '/admin/sign-in');
    if (session === 'ended') return seeOther(reply, '/admin/sign-in?reason=expired');
    const ctx = contextOf(request, reply);
    const definition: ConsoleSection = CONSOLE_SECTIONS.find((candidate) => candidate.id === id) ?? CONSOLE_SECTIONS[0];
    if (!session.sections.includes(id)) {
      const title = ctx.t('admin.forbidden.title');
      return sendPage(reply, consoleLayout(ctx, { page: 'forbidden', title, main: messageMain(ctx.t('admin.forbidden.body')), session }), 403);
    }
    return sendPage(reply, consoleLayout(ctx, { page: view.page ?? id, title: ctx.t(view.title ?? definition.label), main: main(ctx, session), session, section: id, ...(view.data ? { data: view.data(request) } : {}), ...(view.script ? { script: view.script } : {}) }));
  };

  typed.get('/admin', { schema: { hide: true, querystring: languageQuery } }, async (_request, reply) => seeOther(reply, '/admin/dashboard'));

  typed.get('/admin/sign-in', { schema: { hide: true, querystring: signInQuery } }, async (request, reply) => {
    const session = await sessionOf(request);
    if (session !== null && session !== 'ended') return seeOther(reply, '/admin/dashboard');
    const ctx = contextOf(request, reply);
    // An ended session's cookie is useless; dropping it stops every later page from saying "expired" again.
    if (session === 'ended') adminAuth.clearSessionCookie(reply);
    return sendPage(reply, consoleLayout(ctx, { page: 'sign-in', title: ctx.t('admin.sign_in.title'), main: signInMain(ctx, request.query.reason ?? null), session: null }));
  });

  typed.get('/admin/dashboard', { schema: { hide: true, querystring: languageQuery } }, section('dashboard', dashboardMain));
  typed.get('/admin/accounts', { schema: { hide: true, querystring: languageQuery } }, section('accounts', accountsMain));
  typed.get(
    '/admin/accounts/:id',
    { schema: { hide: true, params: accountParams, querystring: languageQuery } },
    section('accounts', accountMain, { page: 'account', title: 'admin.account.title', data: (request) => ({ 'account-id': (request.params as z.infer<typeof accountParams>).id }) }),
  );
  typed.get('/admin/audit', { schema: { hide: true, querystring: languageQuery } }, section('audit', auditMain));
  typed.get('/admin/policy', { schema: { hide: true, querystring: languageQuery } }, section('policy', policyMain));
  typed.get('/admin/alerts', { schema: { hide: true, querystring: languageQuery } }, section('alerts', alertsMain));
  typed.get('/admin/outbox', { schema: { hide: true, querystring: languageQuery } }, section('outbox', outboxMain));
  registerGovernancePages(typed, section);
  registerHelpdeskPages(pages, latchkey, shell, section);
}
