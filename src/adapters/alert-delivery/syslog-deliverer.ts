import { hostname } from 'node:os';
import type { AlertDeliverer } from '../../core/monitoring/alerts/alert-deliverer.ts';
import { notificationTitle, type AlertNotification } from '../../core/monitoring/alerts/notification.ts';
import type { AlertSeverity } from '../../core/monitoring/finding.ts';
import { createSyslogTransport, formatRfc5424, type SyslogFacility, type SyslogSeverity, type SyslogTransport } from '../audit-export/syslog-transport.ts';

export interface SyslogTargetConfig {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  /** PEM file of the CA that signed the collector's certificate (TLS); unset means the system roots. */
  readonly caFile?: string | undefined;
  readonly facility: SyslogFacility;
  readonly appName: string;
  readonly enterpriseId: number;
  readonly timeoutMs: number;
}

const SYSLOG_SEVERITY: Readonly<Record<AlertSeverity, SyslogSeverity>> = { low: 'notice', medium: 'warning', high: 'err', critical: 'crit' };

/**
 * One RFC 5424 message for a notification: the title as the message text, and the alert's key
 * facts as structured data (`[alert@<enterprise> id=… severity=… …]`) so a SIEM can index them
 * without parsing prose. One line: the MSG never contains a line break.
 */
export function syslogMessage(notification: AlertNotification, deliveryId: string, config: Pick<SyslogTargetConfig, 'facility' | 'appName' | 'enterpriseId'>, host: string | null): string {
  const sdId = `alert@${config.enterpriseId}`;
  if (notification.kind === 'suppressed_summary') {
    return formatRfc5424({
      facility: config.facility,
      severity: 'warning',
      timestamp: new Date(notification.at),
      hostname: host,
      appName: config.appName,
      msgId: 'alert_summary',
      structuredData: [{ id: sdId, params: { notification: notification.id, delivery: deliveryId, suppressed: String(notification.suppressed.count), since: notification.suppressed.since, until: notification.suppressed.until } }],
      message: notificationTitle(notification),
    });
  }
  const { alert, reason } = notification;
  const params: Record<string, string> = {
    id: alert.id,
    notification: notification.id,
    delivery: deliveryId,
    reason,
    detector: alert.detectorId,
    severity: alert.severity,
    status: alert.status,
    dedupeKey: alert.dedupeKey,
    occurrences: String(alert.occurrences),
    firstSeen: alert.firstSeenAt,
    lastSeen: alert.lastSeenAt,
    ...(alert.subject ? { subject: alert.subject } : {}),
    ...(alert.ip ? { ip: alert.ip } : {}),
    ...(alert.department ? { department: alert.department } : {}),
  };
  return formatRfc5424({
    facility: config.facility,
    severity: SYSLOG_SEVERITY[alert.severity],
    timestamp: new Date(notification.at),
    hostname: host,
    appName: config.appName,
    msgId: 'alert',
    structuredData: [{ id: sdId, params }],
    message: notificationTitle(notification),
  });
}

/** Sends alert notifications to a syslog collector over TCP (octet counting), optionally TLS. */
export function createSyslogDeliverer(config: SyslogTargetConfig): AlertDeliverer {
  const transport: SyslogTransport = createSyslogTransport({
    host: config.host,
    port: config.port,
    timeoutMs: config.timeoutMs,
    ...(config.tls ? { tls: config.caFile ? { caFile: config.caFile } : {} } : {}),
  });
  const host = hostname();
  return {
    target: 'syslog',
    async deliver(notification, deliveryId) {
      try {
        await transport.send([syslogMessage(notification, deliveryId, config, host)]);
      } catch (error) {
        throw new Error(`syslog: ${error instanceof Error ? error.message.slice(0, 160) : 'send failed'}`);
      }
    },
    close: () => transport.close(),
  };
}
