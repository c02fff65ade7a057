import { z } from 'zod';
import type { AlertDeliverer } from '../../core/monitoring/alerts/alert-deliverer.ts';
import type { Clock } from '../../core/ports/system.ts';
import { DOCUMENTATION_ENTERPRISE_ID } from '../audit-export/syslog-transport.ts';
import { createSyslogDeliverer } from './syslog-deliverer.ts';
import { createWebhookDeliverer } from './webhook-deliverer.ts';

const SYSLOG_FACILITY_NAMES = ['auth', 'authpriv', 'security', 'daemon', 'user', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'] as const;

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });

const webhookSchema = z.strictObject({
  url: httpUrl.describe('Where to POST notifications.'),
  // SECURITY: a short shared secret could be brute-forced from one captured signature.
  secret: z.string().min(32, 'must be at least 32 characters').describe('HMAC-SHA256 key shared with the receiver (secret: never logged).'),
  format: z.enum(['json', 'slack']).default('json').describe('`json` (the notification) or `slack` (`{text, blocks}` for a Slack-compatible incoming webhook).'),
  timeoutMs: z.number().int().min(100).max(60_000).default(10_000).describe('How long one POST may take before it counts as failed and is retried.'),
});

const recipients = z
  .union([z.array(z.string()), z.string().transform((value) => value.split(',').map((item) => item.trim()).filter(Boolean))])
  .pipe(z.array(z.email('must be e-mail addresses')).min(1).max(50));

/** The `alerts` section of the server configuration. */
export const alertsConfigSchema = z
  .strictObject({
    email: z.strictObject({ recipients: recipients.describe('Addresses to mail every notification to (a list, or comma-separated).') }).optional(),
    webhooks: z
      .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,31}$/, 'webhook names are letters, digits, _ and -, at most 32'), webhookSchema)
      .default({})
      .describe('Webhook targets by name: alerts.webhooks.<name>.url, .secret, .format.'),
    syslog: z
      .strictObject({
        host: z.string().min(1),
        port: z.number().int().min(1).max(65_535).default(6514),
        tls: z.boolean().default(true).describe('TLS (RFC 5425); false for plain TCP on a trusted network.'),
        caFile: z.string().min(1).optional().describe('PEM file of the CA that signed the collector certificate.'),
        facility: z.enum(SYSLOG_FACILITY_NAMES).default('authpriv'),
        appName: z.string().regex(/^[\x21-\x7e]{1,48}$/, 'must be 1 to 48 printable ASCII characters').default('latchkey'),
        enterpriseId: z.number().int().min(1).default(DOCUMENTATION_ENTERPRISE_ID),
        timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
      })
      .optional(),
    throttle: z
      .strictObject({
        perKeyWindowSeconds: z.number().int().min(0).max(604_800).default(900).describe('At most one notification per dedupe key in this window (escalations excepted).'),
        globalPerMinute: z.number().int().min(1).max(10_000).default(20).describe('At most this many alert notifications in any minute; the rest are summarised.'),
      })
      .default({ perKeyWindowSeconds: 900, globalPerMinute: 20 }),
    delivery: z
      .strictObject({
        pollIntervalMs: z.number().int().min(10).max(60_000).default(1000),
        maxAttempts: z.number().int().min(1).max(100).default(10),
      })
      .default({ pollIntervalMs: 1000, maxAttempts: 10 }),
  })
  .default({ webhooks: {}, throttle: { perKeyWindowSeconds: 900, globalPerMinute: 20 }, delivery: { pollIntervalMs: 1000, maxAttempts: 10 } });

export type AlertsConfig = z.infer<typeof alertsConfigSchema>;

/** The asynchronous targets a configuration names, by target name (`webhook:<name>`, `syslog`). */
export function createAlertDeliverers(config: AlertsConfig, clock: Clock): Map<string, AlertDeliverer> {
  const deliverers = new Map<string, AlertDeliverer>();
  for (const [name, webhook] of Object.entries(config.webhooks)) {
    const deliverer = createWebhookDeliverer(name, webhook, clock);
    deliverers.set(deliverer.target, deliverer);
  }
  if (config.syslog) {
    const syslog = config.syslog;
    // The CA file is read once, here, so a wrong path stops the start instead of failing every delivery.
    const deliverer = (() => {
      try {
        return createSyslogDeliverer(syslog);
      } catch (error) {
        throw new Error(`alerts.syslog.caFile: cannot read ${syslog.caFile ?? 'the CA file'}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
      }
    })();
    deliverers.set(deliverer.target, deliverer);
  }
  return deliverers;
}
