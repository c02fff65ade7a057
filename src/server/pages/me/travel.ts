import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isDomainError } from '../../../core/errors.ts';
import type { Latchkey } from '../../compose.ts';
import { requestContext } from '../../http/app.ts';
import { LANGUAGES, type MessageKey } from '../i18n/catalog.ts';
import type { Flash } from '../page-security.ts';
import type { PageContext } from '../views.ts';
import type { PortalToolkit } from './routes.ts';
import { travelPage, type TravelField, type TravelForm } from './travel-views.ts';

/** The signed-in page runner of routes.ts (CSRF check, session cookie, domain errors back to a page). */
export type SignedIn = (
  request: FastifyRequest,
  reply: FastifyReply,
  options: { csrf?: string | undefined; backTo: string },
  action: (token: string, ctx: PageContext, session: string) => Promise<FastifyReply>,
) => Promise<FastifyReply>;

const csrfField = z.string().max(256).optional();
const languageQuery = z.object({ lang: z.enum(LANGUAGES).optional() }).strict();
const tripParam = z.object({ id: z.uuid() }).strict();
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
/** The flash cookie's notices (page-security.ts) read on this page. */
const NOTICES: Readonly<Record<string, MessageKey>> = { trip_declared: 'me.travel.notice.declared', trip_cancelled: 'me.travel.notice.cancelled' };
const FIELD_MESSAGES: Readonly<Record<TravelField, MessageKey>> = { countries: 'me.travel.error.countries', from: 'me.travel.error.from', to: 'me.travel.error.to' };

const seeOther = (reply: FastifyReply, path: string): FastifyReply => reply.code(303).header('location', path).send();

/** Countries as typed: ISO codes separated by commas or spaces (or several values of a multi-select). */
export function parseCountries(input: string | readonly string[] | undefined): string[] | null {
  const text = typeof input === 'string' ? input : (input ?? []).join(',');
  const codes = text
    .split(/[\s,;]+/)
    .map((code) => code.trim().toUpperCase())
    .filter((code) => code !== '');
  if (codes.length === 0 || codes.some((code) => !/^[A-Z]{2}$/.test(code))) return null;
  return [...new Set(codes)];
}

/**
 * Declared travel in the portal (/me/travel), over the TravelService the `/api/me/travel` routes
 * use. A form the person has to fix is answered 422 with the page, the entered values and the field
 * named; declaring and cancelling redirect back (POST-redirect-GET) with a notice. docs/portal.md.
 */
export function registerTravelPages(pages: FastifyInstance, latchkey: Latchkey, kit: PortalToolkit, signedIn: SignedIn): void {
  const typed = pages.withTypeProvider<ZodTypeProvider>();
  const { travel } = latchkey;
  const { sendPage, errorsOf, flashes } = kit;

  const noticeOf = (flash: Flash | null): MessageKey | null => (flash?.notice ? (NOTICES[flash.notice] ?? null) : null);

  const refused = async (reply: FastifyReply, ctx: PageContext, token: string, status: number, error: { message: string; field?: TravelField }, form: TravelForm): Promise<FastifyReply> =>
    sendPage(reply, travelPage(ctx, await travel.overview(token), { items: [error], stuck: false }, null, form), status);

  typed.get('/me/travel', { schema: { hide: true, querystring: languageQuery } }, async (request, reply) =>
    signedIn(request, reply, { backTo: '/me' }, async (token, ctx, session) => {
      const overview = await travel.overview(token);
      const flash = flashes.take(request, reply, session);
      return sendPage(reply, travelPage(ctx, overview, errorsOf(ctx, flash), noticeOf(flash), {}));
    }),
  );

  typed.post(
    '/me/travel',
    {
      schema: {
        hide: true,
        body: z.object({ _csrf: csrfField, countries: z.union([z.string().max(200), z.array(z.string().max(8)).max(40)]).optional(), from: z.string().max(32).optional(), to: z.string().max(32).optional() }).strict(),
      },
    },
    async (request, reply) =>
      signedIn(request, reply, { csrf: request.body._csrf, backTo: '/me/travel' }, async (token, ctx, session) => {
        const raw = request.body.countries;
        const from = (request.body.from ?? '').trim();
        const to = (request.body.to ?? '').trim();
        const form: TravelForm = { countries: typeof raw === 'string' ? raw : (raw ?? []).join(', '), from, to };
        const countries = parseCountries(raw);
        const problem = (field: TravelField): Promise<FastifyReply> => refused(reply, ctx, token, 422, { message: ctx.t(FIELD_MESSAGES[field]), field }, form);
        if (countries === null) return problem('countries');
        if (!ISO_DATE.test(from)) return problem('from');
        if (!ISO_DATE.test(to)) return problem('to');
        try {
          await travel.declare(token, { countries, fromDate: from, toDate: to }, requestContext(request));
        } catch (error) {
          if (!isDomainError(error) || error.code !== 'travel.invalid_input') throw error;
          const field = error.extra['field'];
          return problem(field === 'from' || field === 'to' ? field : 'countries');
        }
        flashes.set(reply, session, { notice: 'trip_declared' });
        return seeOther(reply, '/me/travel');
      }),
  );

  // A refused cancel renders the travel page at this path; its language links come back here.
  typed.get('/me/travel/:id/cancel', { schema: { hide: true, params: tripParam, querystring: languageQuery } }, async (request, reply) => {
    kit.contextOf(request, reply);
    return seeOther(reply, '/me/travel');
  });

  typed.post('/me/travel/:id/cancel', { schema: { hide: true, params: tripParam, body: z.object({ _csrf: csrfField }).strict() } }, async (request, reply) =>
    signedIn(request, reply, { csrf: request.body._csrf, backTo: '/me/travel' }, async (token, ctx, session) => {
      try {
        await travel.cancel(token, request.params.id, requestContext(request));
      } catch (error) {
        if (isDomainError(error) && error.code === 'travel.not_found') return refused(reply, ctx, token, 404, { message: ctx.t('error.travel.not_found') }, {});
        throw error;
      }
      flashes.set(reply, session, { notice: 'trip_cancelled' });
      return seeOther(reply, '/me/travel');
    }),
  );
}
