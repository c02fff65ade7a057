/*
 * RFC 5424 syslog messages and RFC 6587 octet-counting frames, as pure functions, for the audit
 * export's syslog sink and for alert delivery to syslog.
 */

/**
 * RFC 5612 reserves private enterprise number 32473 for documentation and examples. Latchkey has no
 * IANA number of its own, so structured data is `[latchkey@32473 …]` unless the operator configures
 * the enterprise number of their own organisation (syslog sink option `enterpriseId`).
 */
export const DOCUMENTATION_ENTERPRISE_ID = 32473;

export const SYSLOG_SEVERITIES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;
export type SyslogSeverity = (typeof SYSLOG_SEVERITIES)[number];

export const SYSLOG_FACILITIES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'ntp', 'security', 'console', 'clock',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const;
export type SyslogFacility = (typeof SYSLOG_FACILITIES)[number];

/** One SD-ELEMENT: `id` is `name@enterpriseNumber` (or an IANA-registered name); values are text. */
export interface StructuredDataElement {
  readonly id: string;
  readonly params: Readonly<Record<string, string>>;
}

export interface Rfc5424Message {
  readonly facility: SyslogFacility;
  readonly severity: SyslogSeverity;
  readonly timestamp: Date;
  /** null → NILVALUE. */
  readonly hostname: string | null;
  readonly appName: string | null;
  readonly procId?: string | null;
  readonly msgId?: string | null;
  readonly structuredData?: readonly StructuredDataElement[];
  /** Free text; sent without a BOM (MSG-ANY), so collectors take it as is. */
  readonly message?: string;
}

/** Header fields are PRINTUSASCII (33–126) with a length cap; anything else is replaced, never passed through. */
function headerField(value: string | null | undefined, maxLength: number): string {
  if (value === null || value === undefined || value === '') return '-';
  return value.replace(/[^\x21-\x7e]/g, '_').slice(0, maxLength);
}

/** SD-NAME: PRINTUSASCII except `=`, space, `]` and `"`, at most 32 characters. */
function sdName(value: string): string {
  const name = value.replace(/[^\x21-\x7e]|[= \]"]/g, '_').slice(0, 32);
  if (name === '') throw new RangeError('a structured-data name cannot be empty');
  return name;
}

/** PARAM-VALUE escaping (RFC 5424 §6.3.3): `"`, `\` and `]` are preceded by a backslash. */
const sdValue = (value: string): string => value.replace(/["\\\]]/g, (char) => `\\${char}`);

/** Formats one RFC 5424 message (without framing). */
export function formatRfc5424(message: Rfc5424Message): string {
  const pri = SYSLOG_FACILITIES.indexOf(message.facility) * 8 + SYSLOG_SEVERITIES.indexOf(message.severity);
  const sd =
    message.structuredData && message.structuredData.length > 0
      ? message.structuredData
          .map((element) => `[${sdName(element.id)}${Object.entries(element.params).map(([key, value]) => ` ${sdName(key)}="${sdValue(value)}"`).join('')}]`)
          .join('')
      : '-';
  const header = [
    `<${pri}>1`,
    message.timestamp.toISOString(),
    headerField(message.hostname, 255),
    headerField(message.appName, 48),
    headerField(message.procId, 128),
    headerField(message.msgId, 32),
    sd,
  ].join(' ');
  return message.message === undefined || message.message === '' ? header : `${header} ${message.message}`;
}

const utf8 = new TextEncoder();

/** RFC 6587 octet counting: the message's length in bytes (UTF-8), a space, then the message. */
export const frameOctetCounted = (message: string): string => `${utf8.encode(message).length} ${message}`;
