import { z } from 'zod';
import { SYSLOG_FACILITIES } from '../../core/audit/formats/rfc5424.ts';
import { DOCUMENTATION_ENTERPRISE_ID } from '../../core/audit/formats/rfc5424.ts';

/*
 * Configuration of the audit export (key `auditExport`), validated at start-up. Each sink has a
 * unique `name`: its cursor is stored under that name, so renaming a sink starts it from the
 * beginning of the log.
 */

const sinkName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1–63 lower-case letters, digits, _ or -, starting with a letter or digit')
  .describe('Unique name; the sink’s cursor is stored under it.');
const timeoutMs = z.number().int().min(100).max(120_000).default(10_000);

export const syslogSinkConfigSchema = z.strictObject({
  name: sinkName,
  type: z.literal('syslog'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65_535).describe('Collector TCP port (commonly 514, or 6514 with TLS).'),
  tls: z
    .strictObject({
      caFile: z.string().min(1).optional().describe('PEM CA bundle for the collector’s certificate; unset means the system roots.'),
      certFile: z.string().min(1).optional().describe('Client certificate (PEM) for mutual TLS.'),
      keyFile: z.string().min(1).optional().describe('Client key (PEM) for mutual TLS.'),
      serverName: z.string().min(1).optional().describe('Name to verify the certificate against (default: host).'),
    })
    .refine((tls) => (tls.certFile === undefined) === (tls.keyFile === undefined), { message: 'certFile and keyFile go together', path: ['keyFile'] })
    .optional(),
  facility: z.enum(SYSLOG_FACILITIES).default('authpriv'),
  appName: z.string().regex(/^[\x21-\x7e]{1,48}$/, 'must be 1–48 printable ASCII characters without spaces').default('latchkey'),
  hostname: z.string().regex(/^[\x21-\x7e]{1,255}$/, 'must be printable ASCII without spaces').optional().describe('HOSTNAME field (default: the machine’s host name).'),
  format: z.enum(['json', 'cef', 'ocsf']).default('json'),
  enterpriseId: z.number().int().min(1).default(DOCUMENTATION_ENTERPRISE_ID).describe('Private enterprise number in the structured-data id `latchkey@<n>` (default 32473, the RFC 5612 documentation number).'),
  timeoutMs,
});

export const jsonlSinkConfigSchema = z.strictObject({
  name: sinkName,
  type: z.literal('jsonl'),
  path: z.string().min(1).describe('The file written; rotated files are path.1 (newest) … path.<keep>.'),
  maxBytes: z.number().int().min(1024).default(100 * 1024 * 1024).describe('Rotate before a batch would make the file larger than this.'),
  keep: z.number().int().min(0).max(1000).default(10).describe('Rotated files kept; older ones are deleted.'),
  format: z.enum(['json', 'ocsf']).default('json'),
});

export const httpSinkConfigSchema = z
  .strictObject({
    name: sinkName,
    type: z.literal('http'),
    url: z.url({ protocol: /^https?$/ }),
    api: z.enum(['generic', 'splunk_hec']).default('generic').describe('generic: a JSON array per batch; splunk_hec: Splunk HTTP Event Collector.'),
    format: z.enum(['json', 'ocsf']).default('json').describe('The body of each event.'),
    hmacSecret: z.string().min(16).optional().describe('generic: sign each request (X-Latchkey-Signature); secret, never logged.'),
    token: z.string().min(1).optional().describe('splunk_hec: the HEC token (Authorization: Splunk <token>); secret, never logged.'),
    channel: z.uuid().optional().describe('splunk_hec: X-Splunk-Request-Channel, for HEC with indexer acknowledgement.'),
    source: z.string().min(1).default('latchkey'),
    sourcetype: z.string().min(1).default('latchkey:audit'),
    index: z.string().min(1).optional(),
    hostname: z.string().min(1).optional().describe('splunk_hec: the host field (default: the machine’s host name).'),
    timeoutMs,
  })
  .refine((sink) => sink.api !== 'splunk_hec' || sink.token !== undefined, { message: 'is required when api is splunk_hec', path: ['token'] });

export const auditExportSinkConfigSchema = z.discriminatedUnion('type', [syslogSinkConfigSchema, jsonlSinkConfigSchema, httpSinkConfigSchema]);

export const auditExportConfigSchema = z
  .strictObject({
    pollIntervalMs: z.number().int().min(10).max(60_000).default(1_000).describe('How often each sink looks for new events.'),
    batchSize: z.number().int().min(1).max(5_000).default(200).describe('Events per delivery.'),
    retryInitialMs: z.number().int().min(10).max(600_000).default(1_000).describe('First retry delay after a failure; doubles per failure.'),
    retryMaxMs: z.number().int().min(10).max(3_600_000).default(300_000).describe('Cap of the retry delay.'),
    leaseSeconds: z.number().int().min(5).max(3_600).default(60).describe('How long an instance holds a sink; another instance takes over after it dies.'),
    sinks: z.array(auditExportSinkConfigSchema).max(32).default([]),
  })
  .superRefine((config, context) => {
    const seen = new Set<string>();
    config.sinks.forEach((sink, index) => {
      if (seen.has(sink.name)) context.addIssue({ code: 'custom', message: `duplicate sink name '${sink.name}'`, path: ['sinks', index, 'name'] });
      seen.add(sink.name);
      // A delivery outliving the lease would let a second instance send the same batch beside it.
      if (sink.type !== 'jsonl' && sink.timeoutMs >= config.leaseSeconds * 1000) {
        context.addIssue({ code: 'custom', message: 'must be shorter than auditExport.leaseSeconds', path: ['sinks', index, 'timeoutMs'] });
      }
    });
  });

export type AuditExportConfig = z.infer<typeof auditExportConfigSchema>;
export type AuditExportSinkConfig = z.infer<typeof auditExportSinkConfigSchema>;
export type SyslogSinkConfig = z.infer<typeof syslogSinkConfigSchema>;
export type JsonlSinkConfig = z.infer<typeof jsonlSinkConfigSchema>;
export type HttpSinkConfig = z.infer<typeof httpSinkConfigSchema>;
