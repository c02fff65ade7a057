import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Latchkey } from '../../compose.ts';
import { requestContext, requireBearer } from '../app.ts';

const sessionSecurity = [{ bearer: [] }];
const tripIdParam = z.object({ id: z.uuid('the trip id is a UUID') }).strict();
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date in YYYY-MM-DD form');

/**
 * Declared travel, for the signed-in person: list trips (with the methods that work without a
 * phone signal), declare one, cancel one. Calendar checks beyond the shape (real dates, a trip that
 * has not ended, at most 92 days) are the travel service's, answered `travel.invalid_input` 422.
 */
export function registerTravelRoutes(app: FastifyInstance, latchkey: Latchkey): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const { travel } = latchkey;

  typed.get(
    '/api/me/travel',
    {
      schema: {
        tags: ['self-service'],
        summary: 'Declared trips, and which registered methods work without a phone signal.',
        security: sessionSecurity,
        querystring: z.object({}).strict(),
      },
    },
    async (request) => travel.overview(requireBearer(request)),
  );

  typed.post(
    '/api/me/travel',
    {
      schema: {
        tags: ['self-service'],
        summary: 'Declare a trip: recovery from these countries between these dates (inclusive, UTC) is expected.',
        description: 'A recovery started from another country while the trip is in force needs one more gate and raises an alert.',
        security: sessionSecurity,
        body: z
          .object({
            countries: z.array(z.string().regex(/^[A-Za-z]{2}$/, 'each must be a two-letter ISO 3166-1 country code such as DE')).min(1).max(20),
            from: isoDate,
            to: isoDate,
          })
          .strict(),
      },
    },
    async (request, reply) => {
      const { countries, from, to } = request.body;
      const result = await travel.declare(requireBearer(request), { countries, fromDate: from, toDate: to }, requestContext(request));
      return reply.code(201).send(result);
    },
  );

  typed.delete(
    '/api/me/travel/:id',
    { schema: { tags: ['self-service'], summary: 'Cancel a declared trip.', security: sessionSecurity, params: tripIdParam } },
    async (request, reply) => {
      await travel.cancel(requireBearer(request), request.params.id, requestContext(request));
      return reply.code(204).send();
    },
  );
}
