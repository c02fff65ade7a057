import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { LANGUAGES } from '../i18n/catalog.ts';
import type { ConsoleSectionHandler } from './console.ts';
import { breakGlassMain, privilegedHoldsMain, recoveryPathsMain } from './governance-views.ts';

const GOVERNANCE_SCRIPT = 'admin-governance.js';

const languageQuery = z.object({ lang: z.enum(LANGUAGES).optional() }).strict();
// The opening id travels in the link one custodian hands the next; it is no secret (each share still needs its own operator's session).
const breakGlassQuery = z.object({ lang: z.enum(LANGUAGES).optional(), opening: z.uuid('an opening id is a UUID').optional() }).strict();
const holdsQuery = z.object({ lang: z.enum(LANGUAGES).optional(), status: z.enum(['held', 'confirmed', 'unconfirmed', '']).optional() }).strict();

/**
 * The console's governance sections (docs/console.md): every recovery path per tier with its
 * findings (`policy:read`), break-glass status and the emergency opening (`policy:read` to see,
 * `breakglass:operate` to act), and held privileged recoveries (`accounts:read`, confirming needs
 * `privileged:confirm`). The pages are shells; the admin API behind them is the real guard.
 */
export function registerGovernancePages(pages: FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>, section: ConsoleSectionHandler): void {
  pages.get('/admin/recovery-paths', { schema: { hide: true, querystring: languageQuery } }, section('recovery-paths', recoveryPathsMain, { script: GOVERNANCE_SCRIPT }));
  pages.get(
    '/admin/break-glass',
    { schema: { hide: true, querystring: breakGlassQuery } },
    section('break-glass', breakGlassMain, { script: GOVERNANCE_SCRIPT, data: (request) => ({ opening: (request.query as z.infer<typeof breakGlassQuery>).opening ?? '' }) }),
  );
  pages.get(
    '/admin/privileged-holds',
    { schema: { hide: true, querystring: holdsQuery } },
    section('privileged-holds', privilegedHoldsMain, { script: GOVERNANCE_SCRIPT, data: (request) => ({ status: (request.query as z.infer<typeof holdsQuery>).status ?? 'held' }) }),
  );
}
