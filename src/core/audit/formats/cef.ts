import { AUDIT_EVENT_TYPES, type AuditRecord } from '../events.ts';
import { exportSeverity, type ExportSeverity } from './severity.ts';

/*
 * ArcSight Common Event Format (CEF) 0: `CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|Extension`.
 * Header fields escape `\` and `|`; extension values escape `\`, `=` and line breaks (as `\n`,
 * `\r`), so no value can end a field or forge another key.
 */

const CEF_SEVERITY: Readonly<Record<ExportSeverity, number>> = { 1: 1, 2: 3, 3: 5, 4: 7 };

export const escapeCefHeader = (value: string): string => value.replace(/[\\|]/g, (char) => `\\${char}`).replace(/\r\n|\r|\n/g, ' ');

export const escapeCefValue = (value: string): string =>
  value.replace(/[\\=]/g, (char) => `\\${char}`).replace(/\r\n|\n/g, '\\n').replace(/\r/g, '\\r');

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** One audit record as a CEF line (no syslog header; the syslog sink frames it). */
export function formatCef(record: AuditRecord, productVersion: string): string {
  const extension: [string, string | number | null][] = [
    ['rt', record.at.getTime()],
    ['externalId', record.id],
    ['cn1Label', 'seq'],
    ['cn1', record.seq],
    ['outcome', record.outcome],
    ['reason', record.reason],
    ['suid', record.actor.id],
    ['cs1Label', 'actorKind'],
    ['cs1', record.actor.kind],
    ['duid', record.subject],
    // CEF's src is IPv4 only; an IPv6 client goes in the IPv6 custom field.
    ...(record.ip !== null && !IPV4.test(record.ip) ? ([['c6a2Label', 'sourceIpv6'], ['c6a2', record.ip]] as [string, string][]) : [['src', record.ip] as [string, string | null]]),
    ['requestClientApplication', record.userAgent],
    ['cs2Label', 'department'],
    ['cs2', record.department],
    ['cs3Label', 'tier'],
    ['cs3', record.tier],
    ['cs4Label', 'flowId'],
    ['cs4', record.flowId],
    ['cs5Label', 'data'],
    ['cs5', Object.keys(record.data).length > 0 ? JSON.stringify(record.data) : null],
    ['cs6Label', 'hash'],
    ['cs6', record.hash],
  ];
  // A label without its value is noise: both go when the value is null.
  const present = extension.filter(([key, value], index) => {
    if (value !== null) return !key.endsWith('Label') || extension[index + 1]?.[1] !== null;
    return false;
  });
  const header = ['CEF:0', 'Latchkey', 'Latchkey', productVersion, record.type, AUDIT_EVENT_TYPES[record.type], String(CEF_SEVERITY[exportSeverity(record)])].map((field, index) =>
    index === 0 ? field : escapeCefHeader(field),
  );
  return `${header.join('|')}|${present.map(([key, value]) => `${key}=${escapeCefValue(String(value))}`).join(' ')}`;
}
