import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { METHOD_IDS } from '../../../core/methods/method-ids.ts';
import type { Latchkey } from '../../compose.ts';
import { requestContext, requireBearer } from '../app.ts';
import { identifierField, passwordField, webauthnCredentialField } from './recovery.ts';

const sessionSecurity = [{ bearer: [] }];
const enrollmentIdParam = z.object({ id: z.uuid('the method id is a UUID') }).strict();

/**
 * Managing one's own recovery methods. Signing in takes the directory password and, once a method
 * exists, one gate through the recovery flow API (the answer that passes it returns the session).
 */
export function registerSelfServiceRoutes(app: FastifyInstance, latchkey: Latchkey): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const { selfService } = latchkey;

  typed.post(
    '/api/me/sign-in',
    {
      schema: {
        tags: ['self-service'],
        summary: 'Sign in with the directory password to manage recovery methods.',
        description: 'Returns a session token, or a flow token when a gate is needed: continue with /api/recovery/flow/method and /answer.',
        body: z.object({ username: identifierField, password: passwordField }).strict(),
      },
    },
    async (request) => {
      const result = await selfService.signIn(request.body, requestContext(request));
      return result.status === 'signed_in' ? { status: result.status, sessionToken: result.sessionToken } : { status: result.status, flowToken: result.flowToken, flow: result.flow };
    },
  );

  typed.post('/api/me/sign-out', { schema: { tags: ['self-service'], summary: 'End the session.', security: sessionSecurity, body: z.object({}).strict().optional() } }, async (request, reply) => {
    await selfService.signOut(requireBearer(request), requestContext(request));
    return reply.code(204).send();
  });

  typed.get('/api/me/methods', { schema: { tags: ['self-service'], summary: 'Registered recovery methods and how many policy asks for.', security: sessionSecurity, querystring: z.object({}).strict() } }, async (request) =>
    selfService.listMethods(requireBearer(request)),
  );

  typed.post(
    '/api/me/methods',
    {
      schema: {
        tags: ['self-service'],
        summary: 'Register a method (needs a recent sign-in). Email, phone and authenticator app stay pending until verified.',
        security: sessionSecurity,
        body: z
          .object({
            method: z.enum(METHOD_IDS),
            address: z.string().max(256).optional(),
            phone: z.string().max(32).optional(),
            answers: z.array(z.object({ question: z.string().max(200), answer: z.string().max(256) }).strict()).max(5).optional(),
            label: z.string().max(40).optional(),
          })
          .strict(),
      },
    },
    async (request, reply) => {
      const { method, ...input } = request.body;
      const result = await selfService.addMethod(requireBearer(request), method, input, requestContext(request));
      return reply.code(201).send(result);
    },
  );

  typed.post(
    '/api/me/methods/:id/verify',
    {
      schema: {
        tags: ['self-service'],
        summary: 'Verify a pending method with the code sent to it or shown by the app, or a passkey with the registration credential.',
        security: sessionSecurity,
        params: enrollmentIdParam,
        body: z.union([z.object({ code: z.string().min(1).max(64) }).strict(), z.object({ credential: webauthnCredentialField }).strict()]),
      },
    },
    async (request) => ({
      enrollment: await selfService.verifyMethod(requireBearer(request), request.params.id, 'code' in request.body ? request.body.code : { credential: request.body.credential }, requestContext(request)),
    }),
  );

  typed.delete(
    '/api/me/methods/:id',
    { schema: { tags: ['self-service'], summary: 'Remove a method (needs a recent sign-in).', security: sessionSecurity, params: enrollmentIdParam } },
    async (request, reply) => {
      await selfService.removeMethod(requireBearer(request), request.params.id, requestContext(request));
      return reply.code(204).send();
    },
  );
}
