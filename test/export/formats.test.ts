import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/core/audit/events.ts';
import { asAccountId, asFlowId } from '../../src/core/account/ids.ts';
import { escapeCefHeader, escapeCefValue, formatCef } from '../../src/core/audit/formats/cef.ts';
import { toExportedRecord } from '../../src/core/audit/formats/json.ts';
import { toOcsf } from '../../src/core/audit/formats/ocsf.ts';
import { formatRfc5424, frameOctetCounted } from '../../src/core/audit/formats/rfc5424.ts';

const record = (overrides: Partial<AuditRecord> = {}): AuditRecord => ({
  seq: 42,
  id: '6f1c2a4e-0000-4000-8000-00000000002a',
  at: new Date('2030-01-01T09:00:00.123Z'),
  type: 'password.reset',
  actor: { kind: 'person', id: 'builtin:alice' },
  subject: asAccountId('builtin:alice'),
  outcome: 'success',
  reason: null,
  ip: '192.0.2.10',
  userAgent: 'Mozilla/5.0',
  department: 'Sales',
  tier: 'standard',
  flowId: asFlowId('flow-1'),
  data: { directory: 'builtin' },
  prevHash: 'a'.repeat(64),
  hash: 'b'.repeat(64),
  ...overrides,
});

describe('RFC 5424 and RFC 6587', () => {
  it('formats header, structured data and message exactly, escaping SD values', () => {
    const text = formatRfc5424({
      facility: 'authpriv',
      severity: 'warning',
      timestamp: new Date('2030-01-01T09:00:00.123Z'),
      hostname: 'idp-1',
      appName: 'latchkey',
      msgId: 'challenge.exhausted',
      structuredData: [{ id: 'latchkey@32473', params: { id: 'e-1', seq: '7', note: 'a "quoted" \\ value]' } }],
      message: 'hello',
    });
    expect(text).toBe('<84>1 2030-01-01T09:00:00.123Z idp-1 latchkey - challenge.exhausted [latchkey@32473 id="e-1" seq="7" note="a \\"quoted\\" \\\\ value\\]"] hello');
  });

  it('uses NILVALUE for absent fields and replaces spaces and control characters in header fields', () => {
    expect(formatRfc5424({ facility: 'local0', severity: 'info', timestamp: new Date(0), hostname: null, appName: 'my app\n', msgId: null })).toBe(
      '<134>1 1970-01-01T00:00:00.000Z - my_app_ - - -',
    );
  });

  it('prefixes the byte length, not the character count', () => {
    expect(frameOctetCounted('ünï')).toBe('5 ünï');
  });
});

describe('JSON export body', () => {
  it('is the stored record with an ISO time, the same shape `audit export` writes', () => {
    const exported = toExportedRecord(record());
    expect(exported).toEqual({ ...record(), at: '2030-01-01T09:00:00.123Z' });
    expect(JSON.stringify(exported)).toBe(JSON.stringify({ ...record(), at: record().at.toISOString() }));
  });
});

describe('CEF', () => {
  it('formats the header and extension exactly', () => {
    expect(formatCef(record(), '0.1.0')).toBe(
      'CEF:0|Latchkey|Latchkey|0.1.0|password.reset|A new password was written to the directory.|1|' +
        'rt=1893488400123 externalId=6f1c2a4e-0000-4000-8000-00000000002a cn1Label=seq cn1=42 outcome=success suid=builtin:alice cs1Label=actorKind cs1=person ' +
        'duid=builtin:alice src=192.0.2.10 requestClientApplication=Mozilla/5.0 cs2Label=department cs2=Sales cs3Label=tier cs3=standard cs4Label=flowId cs4=flow-1 ' +
        'cs5Label=data cs5={"directory":"builtin"} cs6Label=hash cs6=' +
        'b'.repeat(64),
    );
  });

  it('escapes pipes and backslashes in the header, and backslashes, equals signs and line breaks in values', () => {
    expect(escapeCefHeader('a|b\\c\nd')).toBe('a\\|b\\\\c d');
    expect(escapeCefValue('k=v\\x\r\ny\rz|ok')).toBe('k\\=v\\\\x\\ny\\rz|ok');
    const hostile = formatCef(record({ type: 'challenge.failed', outcome: 'failure', reason: 'challenge.invalid', userAgent: 'evil\nCEF:0|forged=1 cs1=x', ip: '2001:db8::1', data: {}, flowId: null, department: null }), '1|2');
    expect(hostile).toBe(
      'CEF:0|Latchkey|Latchkey|1\\|2|challenge.failed|A challenge answer was wrong, expired or already used.|3|' +
        'rt=1893488400123 externalId=6f1c2a4e-0000-4000-8000-00000000002a cn1Label=seq cn1=42 outcome=failure reason=challenge.invalid suid=builtin:alice cs1Label=actorKind cs1=person ' +
        'duid=builtin:alice c6a2Label=sourceIpv6 c6a2=2001:db8::1 requestClientApplication=evil\\nCEF:0|forged\\=1 cs1\\=x cs3Label=tier cs3=standard cs6Label=hash cs6=' +
        'b'.repeat(64),
    );
    expect(hostile.split('\n')).toHaveLength(1);
  });
});

describe('OCSF', () => {
  it('maps a password reset to Account Change / Password Reset', () => {
    expect(toOcsf(record(), '0.1.0')).toEqual({
      activity_id: 4,
      activity_name: 'Password Reset',
      category_uid: 3,
      category_name: 'Identity & Access Management',
      class_uid: 3001,
      class_name: 'Account Change',
      type_uid: 300104,
      type_name: 'Account Change: Password Reset',
      severity_id: 1,
      severity: 'Informational',
      status_id: 1,
      status: 'Success',
      time: 1893488400123,
      message: 'A new password was written to the directory.',
      actor: { user: { uid: 'builtin:alice' } },
      user: { uid: 'builtin:alice' },
      src_endpoint: { ip: '192.0.2.10' },
      http_request: { user_agent: 'Mozilla/5.0' },
      metadata: {
        version: '1.1.0',
        product: { name: 'Latchkey', vendor_name: 'Latchkey', version: '0.1.0' },
        uid: '6f1c2a4e-0000-4000-8000-00000000002a',
        sequence: 42,
        event_code: 'password.reset',
        log_name: 'audit',
      },
      unmapped: { type: 'password.reset', actor_kind: 'person', department: 'Sales', tier: 'standard', flow_id: 'flow-1', data: { directory: 'builtin' }, prev_hash: 'a'.repeat(64), hash: 'b'.repeat(64) },
    });
  });

  it.each([
    ['account.unlocked', 3001, 12, 'Unlock'],
    ['account.locked', 3001, 9, 'Lock'],
    ['enrollment.activated', 3001, 10, 'MFA Factor Enable'],
    ['enrollment.removed', 3001, 11, 'MFA Factor Disable'],
    ['sign_in.succeeded', 3002, 1, 'Logon'],
    ['session.ended', 3002, 2, 'Logoff'],
    ['challenge.passed', 3002, 99, 'Other'],
  ] as const)('maps %s to class %i activity %i (%s)', (type, classUid, activityId, activityName) => {
    expect(toOcsf(record({ type }), '0.1.0')).toMatchObject({ class_uid: classUid, activity_id: activityId, activity_name: activityName, type_uid: classUid * 100 + activityId });
  });

  it('maps a failed sign-in to Authentication / Logon with status Failure and Low severity, without a subject or IP it does not have', () => {
    const ocsf = toOcsf(record({ type: 'sign_in.failed', outcome: 'failure', reason: 'auth.failed', subject: null, actor: { kind: 'anonymous', id: null }, ip: null, userAgent: null }), '0.1.0');
    expect(ocsf).toMatchObject({ class_uid: 3002, type_uid: 300201, status_id: 2, status: 'Failure', status_detail: 'auth.failed', severity_id: 2 });
    expect(ocsf).not.toHaveProperty('user');
    expect(ocsf).not.toHaveProperty('actor');
    expect(ocsf).not.toHaveProperty('src_endpoint');
  });

  it('still exports an event nothing maps to, as a Base Event with the type in activity_name and unmapped', () => {
    const ocsf = toOcsf(record({ type: 'message.queued', outcome: 'info', subject: null, data: { channel: 'email' } }), '0.1.0');
    expect(ocsf).toMatchObject({
      class_uid: 0,
      class_name: 'Base Event',
      category_uid: 0,
      activity_id: 99,
      activity_name: 'message.queued',
      type_uid: 99,
      status_id: 0,
      metadata: { uid: '6f1c2a4e-0000-4000-8000-00000000002a', sequence: 42 },
      unmapped: { type: 'message.queued', data: { channel: 'email' } },
    });
  });
});
