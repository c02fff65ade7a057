import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { randomUUID } from 'node:crypto';
import { DomainError, isDomainError } from '../../core/errors.ts';
import type { RequestContext } from '../../core/app/deps.ts';
import type { Latchkey } from '../compose.ts';
import { sendProblem } from './problem.ts';
import { registerRecoveryRoutes } from './routes/recovery.ts';
import { registerSelfServiceRoutes } from './routes/self-service.ts';
import { redactDisputeUrl, registerMethodLifecycleRoutes } from './routes/this-wasnt-me.ts';
import { registerTravelRoutes } from './routes/travel.ts';
import { registerAdminRoutes } from './routes/admin.ts';
import { registerAdminSessionRoutes } from './routes/admin-session.ts';
import { registerAdminAccountRoutes } from './routes/admin-accounts.ts';
import { registerAlertRoutes } from './routes/alerts.ts';
import { registerBreakGlassRoutes } from './routes/breakglass.ts';
import { registerOpsRoutes } from './routes/ops.ts';
import { registerReportRoutes } from './routes/reports.ts';
import { registerPrivilegedRoutes } from './routes/privileged.ts';
import { registerPolicyRoutes } from './routes/policy.ts';
import { redactApprovalUrl, registerHelpdeskRoutes } from './routes/helpdesk.ts';
import { registerPortal } from '../pages/portal.ts';
import { HSTS } from '../pages/page-security.ts';
import { servedOverTls } from '../pages/portal-config.ts';

/** Requests larger than this are refused before parsing (INP-6). */
export const BODY_LIMIT_BYTES = 16 * 1024;

export type App = FastifyInstance;

/** Client address after trusted-proxy resolution (Fastify's trustProxy), never a raw header (RATE-3). */
export const requestContext = (request: FastifyRequest): RequestContext => ({
  ip: request.ip,
  userAgent: typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'].slice(0, 256) : null,
});

/** The bearer credential of a request, or null. */
export function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer ([\x21-\x7e]{1,512})$/.exec(header);
  return match?.[1] ?? null;
}

export function requireBearer(request: FastifyRequest): string {
  const token = bearer(request);
  if (!token) throw new DomainError('auth.required', 'Send the token in an Authorization: Bearer header.');
  return token;
}

interface ZodIssueLike {
  readonly code?: string | undefined;
  readonly path?: readonly PropertyKey[];
  readonly message?: string;
  readonly errors?: readonly (readonly ZodIssueLike[])[];
}

/**
 * The issues to report for one zod issue. A body that matches no branch of a union (the answer
 * endpoint takes `{code}` or `{answers}`) reports the branch it came closest to, so the message
 * names the offending field instead of a bare "Invalid input" (INP-5).
 */
function leafIssues(issue: ZodIssueLike, prefix: readonly PropertyKey[]): { path: readonly PropertyKey[]; message: string }[] {
  const path = [...prefix, ...(issue.path ?? [])];
  if (issue.code === 'invalid_union' && issue.errors && issue.errors.length > 0) {
    const closest = [...issue.errors].sort((a, b) => a.length - b.length)[0] ?? [];
    if (closest.length > 0) return closest.flatMap((inner) => leafIssues(inner, path));
  }
  return [{ path, message: issue.message ?? 'invalid value' }];
}

/** One validation error as fastify-type-provider-zod reports it: the zod issue's code, path and message, its other fields in `params`. */
interface ValidationItem {
  readonly keyword?: string;
  readonly instancePath: string;
  readonly message?: string;
  readonly params?: { readonly errors?: readonly (readonly ZodIssueLike[])[] };
}

function zodMessage(error: { validation: readonly ValidationItem[]; validationContext?: string }): string {
  return error.validation
    .flatMap((item) => leafIssues({ code: item.keyword, path: item.instancePath.split('/').filter(Boolean), message: item.message ?? 'invalid value', ...(item.params?.errors ? { errors: item.params.errors } : {}) }, []))
    .slice(0, 5)
    .map((issue) => {
      const where = [error.validationContext, issue.path.map(String).join('.')].filter(Boolean).join('.');
      return `${where || 'request'}: ${issue.message}`;
    })
    .join('; ');
}

/**
 * The first key that occurs twice in one object of an already valid JSON text, or null.
 *
 * SECURITY: JSON.parse keeps the last of duplicated keys while a proxy, WAF or log parser may keep
 * the first, so `{"identifier":"victim","identifier":"attacker"}` means different accounts to
 * different readers. Duplicates are refused like any other parameter pollution (INP-1).
 */
function duplicateKey(text: string): string | null {
  const objects: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index];
    if (char === '"') {
      let end = index + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const keys = objects[objects.length - 1];
      if (expectKey && keys) {
        const key = JSON.parse(text.slice(index, end + 1)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
      }
      expectKey = false;
      index = end;
    } else if (char === '{' || char === '[') {
      objects.push(char === '{' ? new Set() : null);
      expectKey = char === '{';
    } else if (char === '}' || char === ']') {
      objects.pop();
      expectKey = false;
    } else if (char === ',') {
      expectKey = objects[objects.length - 1] instanceof Set;
    }
  }
  return null;
}

/** Headers every reply carries, including those the router sends before any hook runs. */
function securityHeaders(request: FastifyRequest, reply: FastifyReply): void {
  void reply.header('x-content-type-options', 'nosniff');
  void reply.header('referrer-policy', 'no-referrer');
  void reply.header('x-frame-options', 'DENY');
  void reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'; base-uri 'none'");
  void reply.header('cross-origin-resource-policy', 'same-origin');
  if (request.url.startsWith('/api/')) void reply.header('cache-control', 'no-store');
}

/**
 * Builds the HTTP shell: routes are thin; every decision lives in the application services.
 * Unexpected errors get a generic problem with a correlation id and nothing else (LOG-7).
 */
export async function buildHttpApp(latchkey: Latchkey, options: { logger?: boolean; logStream?: { write(line: string): void } } = {}): Promise<App> {
  const { config } = latchkey;
  const app = Fastify({
    // `logStream` (default stdout) lets the log-content tests read exactly what would be written (LOG-3, LOG-4).
    logger:
      options.logger === false || config.logLevel === 'silent'
        ? false
        : {
            level: config.logLevel,
            redact: ['req.headers.authorization', 'req.headers.cookie'],
            // The path of a "this wasn't me" or an approval link holds its token: logged with the token cut out.
            serializers: { req: (request: FastifyRequest) => ({ method: request.method, url: redactApprovalUrl(redactDisputeUrl(request.url)), host: request.host, remoteAddress: request.ip, remotePort: request.socket.remotePort ?? 0 }) },
            ...(options.logStream ? { stream: options.logStream } : {}),
          },
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    genReqId: () => randomUUID(),
    routerOptions: { maxParamLength: 200 },
    // SECURITY: errors the router raises before any route (a malformed %-escape, an over-long path
    // segment) get the same problem document as every other error, not Fastify's own JSON that
    // echoes the path and names the framework (LOG-7).
    frameworkErrors: (error, request, reply) => {
      securityHeaders(request, reply);
      return sendProblem(reply, 'request.invalid', error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path segment is longer than 200 characters.' : 'The request path is not a valid URL.');
    },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'latchkey_' });
  const requests = new Counter({ name: 'latchkey_http_requests_total', help: 'HTTP requests by route and status.', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const durations = new Histogram({ name: 'latchkey_http_request_duration_seconds', help: 'HTTP request duration by route.', labelNames: ['method', 'route'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry] });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    durations.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Latchkey API', version: '1', description: 'Self-service password reset and account recovery.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    transform: jsonSchemaTransform,
  });

  const tls = servedOverTls(config.portal);
  app.addHook('onSend', async (request, reply, payload) => {
    securityHeaders(request, reply);
    // SECURITY: behind TLS every reply, API included, pins the browser to https (WEB-2).
    if (tls) void reply.header('strict-transport-security', HSTS);
    return payload;
  });

  app.setNotFoundHandler((request, reply) => sendProblem(reply, 'route.not_found', `No endpoint answers ${request.method} ${request.url.split('?')[0]?.slice(0, 100) ?? ''}.`));

  app.setErrorHandler((error, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(error)) return sendProblem(reply, 'request.invalid', zodMessage(error));
    if (isDomainError(error)) return sendProblem(reply, error.code, error.detail, error.extra);
    const status = (error as { statusCode?: number }).statusCode;
    const fastifyCode = (error as { code?: string }).code;
    if (fastifyCode === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) return sendProblem(reply, 'request.too_large', `The body is larger than ${BODY_LIMIT_BYTES} bytes.`);
    if (fastifyCode === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || status === 415) return sendProblem(reply, 'request.unsupported_media_type', 'Send the body as application/json.');
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return sendProblem(reply, 'request.invalid', fastifyCode === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError ? 'The body is not valid JSON.' : 'The request is malformed.');
    }
    request.log.error({ err: error, reqId: request.id }, 'unhandled error');
    return sendProblem(reply, 'internal', 'Something went wrong on our side. Quote the correlation id to the helpdesk.', { correlationId: request.id });
  });

  // SECURITY: JSON only; urlencoded, multipart and text/plain bodies (the shapes a cross-site form can
  // send, and the shape of `user[email][]` array pollution) are refused with 415 (WEB-3, INP-1).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES }, (_request, body, done) => {
    try {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      // SECURITY: prototype-pollution keys are refused outright, not silently dropped (INP-5).
      const parsed: unknown = JSON.parse(text, (key, value: unknown) => {
        if (key === '__proto__' || key === 'constructor' || key === 'prototype') throw new DomainError('request.invalid', `The key '${key}' is not allowed.`);
        return value;
      });
      const duplicate = duplicateKey(text);
      if (duplicate !== null) throw new DomainError('request.invalid', `The key '${duplicate.slice(0, 64)}' appears more than once in one object.`);
      done(null, parsed);
    } catch (error) {
      done(isDomainError(error) ? error : new DomainError('request.invalid', 'The body is not valid JSON.'), undefined);
    }
  });

  // Before any route: a read-only admin principal is refused state-changing admin routes before validation.
  app.addHook('preValidation', latchkey.adminAuth.readOnlyGate);
  registerOpsRoutes(app, latchkey, registry);
  registerRecoveryRoutes(app, latchkey);
  registerSelfServiceRoutes(app, latchkey);
  await registerMethodLifecycleRoutes(app, latchkey);
  registerTravelRoutes(app, latchkey);
  registerAdminRoutes(app, latchkey);
  registerAdminSessionRoutes(app, latchkey);
  registerAdminAccountRoutes(app, latchkey);
  registerAlertRoutes(app, latchkey);
  registerBreakGlassRoutes(app, latchkey);
  registerReportRoutes(app, latchkey);
  registerPrivilegedRoutes(app, latchkey);
  registerPolicyRoutes(app, latchkey);
  registerHelpdeskRoutes(app, latchkey);
  // The portal's pages (`/`, `/forgot`, `/unlock`, …) live in their own encapsulated context: only
  // there are form bodies parsed and the page CSP sent; the JSON API above is unchanged.
  await registerPortal(app, latchkey);
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  return app;
}
