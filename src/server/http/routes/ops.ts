import { z } from 'zod';
import type { Registry } from 'prom-client';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { FastifyInstance } from 'fastify';
import type { Latchkey } from '../../compose.ts';
import { registerRecoveryMetrics } from './reports.ts';
import { registerAuditExportMetrics } from '../../workers/audit-exporter.ts';

const noInput = { querystring: z.object({}).strict() };

/**
 * How long each readiness probe may take. A database that accepts connections but never answers
 * (a hung server, a dropped route) must make /readyz say 503 promptly, not hang the orchestrator's
 * probe: the PostgreSQL pool itself waits for a connection without limit.
 */
export const READINESS_TIMEOUT_MS = 2_000;

/** Liveness, readiness and metrics: for orchestrators and Prometheus, carrying no account data. */
export function registerOpsRoutes(app: FastifyInstance, latchkey: Latchkey, registry: Registry): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  registerRecoveryMetrics(registry, latchkey.store);
  registerAuditExportMetrics(registry, latchkey.auditExporter);
  typed.get('/healthz', { schema: { ...noInput, tags: ['ops'], summary: 'The process is alive.' } }, async () => ({ status: 'ok' }));
  typed.get('/readyz', { schema: { ...noInput, tags: ['ops'], summary: 'The database and the directory answer.' } }, async (_request, reply) => {
    const check = async (probe: () => Promise<void>): Promise<'ok' | 'unavailable'> => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error('readiness probe timed out')), READINESS_TIMEOUT_MS);
      });
      try {
        await Promise.race([probe(), timeout]);
        return 'ok';
      } catch {
        return 'unavailable';
      } finally {
        clearTimeout(timer);
      }
    };
    const [database, directory] = await Promise.all([check(() => latchkey.store.ping()), check(() => latchkey.deps.directory.ping())]);
    const ready = database === 'ok' && directory === 'ok';
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks: { database, directory } });
  });
  typed.get('/metrics', { schema: { ...noInput, tags: ['ops'], summary: 'Prometheus metrics.' } }, async (_request, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}
