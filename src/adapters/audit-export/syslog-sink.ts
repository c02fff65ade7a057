import { hostname as machineHostname } from 'node:os';
import type { AuditRecord } from '../../core/audit/events.ts';
import { formatCef } from '../../core/audit/formats/cef.ts';
import { toExportedRecord } from '../../core/audit/formats/json.ts';
import { toOcsf } from '../../core/audit/formats/ocsf.ts';
import { formatRfc5424, type SyslogSeverity } from '../../core/audit/formats/rfc5424.ts';
import { exportSeverity, type ExportSeverity } from '../../core/audit/formats/severity.ts';
import type { SyslogSinkConfig } from './config.ts';
import type { AuditExportSink } from './sink.ts';
import { createSyslogTransport, type SyslogTransport } from './syslog-transport.ts';

const SYSLOG_SEVERITY: Readonly<Record<ExportSeverity, SyslogSeverity>> = { 1: 'info', 2: 'notice', 3: 'warning', 4: 'err' };

/**
 * One audit record as an RFC 5424 message: MSGID is the event type, structured data
 * `[latchkey@<enterpriseId> id="<event id>" seq="<seq>"]` carries the idempotency key and the
 * position, and the body is the event as JSON, CEF or OCSF.
 */
export function auditSyslogMessage(record: AuditRecord, config: Pick<SyslogSinkConfig, 'facility' | 'appName' | 'format' | 'enterpriseId'> & { hostname: string }, productVersion: string): string {
  const body =
    config.format === 'cef' ? formatCef(record, productVersion) : JSON.stringify(config.format === 'ocsf' ? toOcsf(record, productVersion) : toExportedRecord(record));
  return formatRfc5424({
    facility: config.facility,
    severity: SYSLOG_SEVERITY[exportSeverity(record)],
    timestamp: record.at,
    hostname: config.hostname,
    appName: config.appName,
    msgId: record.type,
    structuredData: [{ id: `latchkey@${config.enterpriseId}`, params: { id: record.id, seq: String(record.seq) } }],
    message: body,
  });
}

/** The syslog sink: one RFC 5424 message per event, a batch per connection (see createSyslogTransport). */
export function createSyslogSink(config: SyslogSinkConfig, productVersion: string, transport?: SyslogTransport): AuditExportSink {
  const hostname = config.hostname ?? machineHostname();
  const channel =
    transport ??
    createSyslogTransport({
      host: config.host,
      port: config.port,
      timeoutMs: config.timeoutMs,
      ...(config.tls ? { tls: { ...(config.tls.caFile ? { caFile: config.tls.caFile } : {}), ...(config.tls.certFile ? { certFile: config.tls.certFile } : {}), ...(config.tls.keyFile ? { keyFile: config.tls.keyFile } : {}), ...(config.tls.serverName ? { serverName: config.tls.serverName } : {}) } } : {}),
    });
  return {
    name: config.name,
    kind: 'syslog',
    deliver: (records) => channel.send(records.map((record) => auditSyslogMessage(record, { ...config, hostname }, productVersion))),
    close: () => channel.close(),
  };
}
