import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Latchkey } from '../../compose.ts';
import { LANGUAGES } from '../i18n/catalog.ts';
import type { ConsoleSectionHandler, ConsoleShell } from './console.ts';
import { registerApprovalPage } from './helpdesk-approval.ts';
import { dayOneMain, helpdeskMain } from './helpdesk-views.ts';

const languageQuery = z.object({ lang: z.enum(LANGUAGES).optional() }).strict();
const SCRIPT = 'admin-helpdesk.js';

/**
 * The console's helpdesk pages (permission `tap:issue`): the helpdesk page (look up, verify, issue
 * or revoke a Temporary Access Pass) and day-one bulk passes, both clients of the helpdesk API in
 * routes/helpdesk.ts, which stays the real guard; and the manager's approval page. docs/console.md.
 */
export function registerHelpdeskPages(pages: FastifyInstance, latchkey: Latchkey, shell: ConsoleShell, section: ConsoleSectionHandler): void {
  const typed = pages.withTypeProvider<ZodTypeProvider>();
  // The bounds are read per request: a published policy changes them without a restart.
  typed.get('/admin/helpdesk', { schema: { hide: true, querystring: languageQuery } }, section('helpdesk', (ctx) => helpdeskMain(ctx, latchkey.deps.policy().temporaryAccessPass), { script: SCRIPT }));
  typed.get('/admin/dayone', { schema: { hide: true, querystring: languageQuery } }, section('dayone', dayOneMain, { script: SCRIPT }));
  registerApprovalPage(pages, latchkey, shell);
}
