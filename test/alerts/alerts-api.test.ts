import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAccountId } from '../../src/core/account/ids.ts';
import type { Finding } from '../../src/core/monitoring/finding.ts';
import type { AlertDetail } from '../../src/core/monitoring/alerts/alert-service.ts';
import type { AdminScope } from '../../src/core/ports/store.ts';
import { ENGINES, allMessages, auditEvents, call, createPerson, expectProblem, startHarness, type Harness, type Person } from '../support/harness.ts';

/*
 * The alerts API and the alert service over a real database, on SQLite and PostgreSQL: findings
 * raised through the FindingSink are stored, deduplicated and throttled; admins list, read,
 * acknowledge and resolve them with scoped tokens, and every step is audited.
 */

interface Page {
  alerts: AlertDetail[];
  nextAfter: string | null;
}

describe.each(ENGINES)('alerts on %s', (engine) => {
  let h: Harness;
  let alice: Person;
  let reader: { token: string; id: string };
  let readerWithAccounts: { token: string; id: string };
  let writer: { token: string; id: string };
  let auditOnly: { token: string; id: string };

  const token = async (scopes: AdminScope[]): Promise<{ token: string; id: string }> => {
    const created = await h.latchkey.adminTokens.create({ name: `alerts ${scopes.join(' ')}`, scopes }, { kind: 'cli', id: 'test' });
    return { token: created.token, id: created.record.id };
  };
  const finding = (overrides: Partial<Finding> = {}): Finding => ({
    detectorId: 'repeated_failures',
    severity: 'high',
    dedupeKey: 'repeated_failures:account:alice',
    summary: '12 failed gates for one account within 15 minutes',
    subject: asAccountId(alice.accountId),
    ip: '203.0.113.9',
    department: 'Engineering',
    observed: { failures: 12, window_minutes: 15 },
    baseline: 'threshold 10 per 15 minutes',
    eventIds: ['11111111-1111-4111-8111-111111111111'],
    at: h.clock.now(),
    ...overrides,
  });
  const list = async (query: string, bearer = reader.token): Promise<Page> => {
    const response = await call(h, 'GET', `/api/admin/alerts${query ? `?${query}` : ''}`, undefined, { token: bearer });
    expect(response.statusCode, response.body).toBe(200);
    return response.json<Page>();
  };
  const byKey = async (key: string): Promise<AlertDetail[]> => (await list('limit=500')).alerts.filter((alert) => alert.dedupeKey === key);

  beforeAll(async () => {
    // The dev outbox receives alert e-mail; a generous global cap so only the cap test meets it.
    h = await startHarness({ engine, env: { LATCHKEY_ALERTS__EMAIL__RECIPIENTS: 'soc@corp.test,oncall@corp.test', LATCHKEY_ALERTS__THROTTLE__GLOBAL_PER_MINUTE: '1000' } });
    alice = await createPerson(h, 'alice');
    [reader, readerWithAccounts, writer, auditOnly] = await Promise.all([token(['alerts:read']), token(['alerts:read', 'accounts:read']), token(['alerts:write']), token(['audit:read'])]);
  });
  afterAll(async () => {
    await h.close();
  });

  it('stores a finding as an open alert with its explanation, and mails the configured recipients through the outbox', async () => {
    await h.latchkey.alerts.raise(finding({ dedupeKey: 'repeated_failures:first' }));
    const [alert] = await byKey('repeated_failures:first');
    expect(alert).toMatchObject({
      detectorId: 'repeated_failures',
      severity: 'high',
      status: 'open',
      summary: '12 failed gates for one account within 15 minutes',
      subject: alice.accountId,
      ip: '203.0.113.9',
      department: 'Engineering',
      observed: { failures: 12, window_minutes: 15 },
      baseline: 'threshold 10 per 15 minutes',
      eventIds: ['11111111-1111-4111-8111-111111111111'],
      occurrences: 1,
      acknowledged: null,
      resolved: null,
    });
    const mails = (await allMessages(h)).filter((message) => message.purpose === 'security_alert' && message.text.includes(alert?.id ?? 'none'));
    expect(mails.map((message) => message.to).sort()).toEqual(['oncall@corp.test', 'soc@corp.test']);
    expect(mails[0]?.subject).toBe('[Latchkey] high: 12 failed gates for one account within 15 minutes');
    const raised = (await auditEvents(h, { types: ['alert.raised'] })).find((event) => event.data['alert_id'] === alert?.id);
    expect(raised).toMatchObject({ actor: { kind: 'system', id: 'alert-service' }, subject: alice.accountId, ip: '203.0.113.9', data: { severity: 'high', notification: 'notify' } });
  });

  it('updates the open alert on a repeat instead of raising another, without mailing again inside the window', async () => {
    const key = 'repeated_failures:repeat';
    await h.latchkey.alerts.raise(finding({ dedupeKey: key }));
    const mailsBefore = (await allMessages(h)).length;
    h.clock.advance(60);
    await h.latchkey.alerts.raise(finding({ dedupeKey: key, eventIds: ['22222222-2222-4222-8222-222222222222'], observed: { failures: 15, window_minutes: 15 } }));
    const alerts = await byKey(key);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ occurrences: 2, observed: { failures: 15, window_minutes: 15 }, eventIds: ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222'] });
    expect(Date.parse(alerts[0]?.lastSeenAt ?? '') - Date.parse(alerts[0]?.firstSeenAt ?? '')).toBeGreaterThanOrEqual(60_000);
    expect((await allMessages(h)).length).toBe(mailsBefore);
  });

  it('delivers again when a repeat escalates the severity, and audits the escalation', async () => {
    const key = 'repeated_failures:escalate';
    await h.latchkey.alerts.raise(finding({ dedupeKey: key, severity: 'high' }));
    const mailsBefore = (await allMessages(h)).length;
    await h.latchkey.alerts.raise(finding({ dedupeKey: key, severity: 'critical' }));
    const [alert] = await byKey(key);
    expect(alert?.severity).toBe('critical');
    const mails = (await allMessages(h)).slice(mailsBefore);
    expect(mails.map((message) => message.subject)).toEqual(['[Latchkey] escalated to critical: 12 failed gates for one account within 15 minutes', '[Latchkey] escalated to critical: 12 failed gates for one account within 15 minutes']);
    const escalated = (await auditEvents(h, { types: ['alert.escalated'] })).find((event) => event.data['alert_id'] === alert?.id);
    expect(escalated?.data).toMatchObject({ severity: 'critical', previous_severity: 'high', notification: 'notify' });
  });

  it('ends with one alert counting every finding when the same key is raised concurrently', async () => {
    const key = 'reset_spray:ip:198.51.100.23';
    await Promise.all(Array.from({ length: 12 }, (_, index) => h.latchkey.alerts.raise(finding({ dedupeKey: key, eventIds: [`event-${index}`] }))));
    const alerts = await byKey(key);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.occurrences).toBe(12);
    expect(alerts[0]?.eventIds).toHaveLength(12);
    expect((await auditEvents(h, { types: ['alert.raised'] })).filter((event) => event.data['dedupe_key'] === key)).toHaveLength(1);
  });

  it('acknowledges and resolves with a reason, recording who, when and why, and audits each change with the token as actor', async () => {
    const key = 'repeated_failures:lifecycle';
    await h.latchkey.alerts.raise(finding({ dedupeKey: key }));
    const [alert] = await byKey(key);
    const id = alert?.id ?? '';

    const acknowledged = await call(h, 'POST', `/api/admin/alerts/${id}/acknowledge`, { reason: 'calling alice to check' }, { token: writer.token, ip: '192.0.2.44' });
    expect(acknowledged.statusCode, acknowledged.body).toBe(200);
    expect(acknowledged.json<{ alert: AlertDetail }>().alert).toMatchObject({ status: 'acknowledged', acknowledged: { by: `token:${writer.id}`, reason: 'calling alice to check' } });

    expectProblem(await call(h, 'POST', `/api/admin/alerts/${id}/acknowledge`, { reason: 'again' }, { token: writer.token }), 409, 'alert.wrong_status');

    const resolved = await call(h, 'POST', `/api/admin/alerts/${id}/resolve`, { reason: 'alice was travelling; confirmed by phone' }, { token: writer.token });
    expect(resolved.statusCode, resolved.body).toBe(200);
    const body = resolved.json<{ alert: AlertDetail }>().alert;
    expect(body).toMatchObject({ status: 'resolved', acknowledged: { reason: 'calling alice to check' }, resolved: { by: `token:${writer.id}`, reason: 'alice was travelling; confirmed by phone' } });
    expect(Date.parse(body.resolved?.at ?? '')).toBeGreaterThanOrEqual(Date.parse(body.acknowledged?.at ?? ''));

    for (const command of ['acknowledge', 'resolve']) {
      const refused = expectProblem(await call(h, 'POST', `/api/admin/alerts/${id}/${command}`, { reason: 'once more' }, { token: writer.token }), 409, 'alert.wrong_status');
      expect(refused['detail']).toMatch(/already resolved/);
    }

    const events = (await auditEvents(h, { types: ['alert.acknowledged', 'alert.resolved'] })).filter((event) => event.data['alert_id'] === id);
    expect(events.map((event) => event.type)).toEqual(['alert.acknowledged', 'alert.resolved']);
    expect(events[0]).toMatchObject({ actor: { kind: 'admin_token', id: writer.id }, ip: '192.0.2.44', outcome: 'success', subject: alice.accountId, data: { reason_text: 'calling alice to check' } });
  });

  it('raises a new alert, linked to the resolved one, when a resolved key recurs', async () => {
    const key = 'repeated_failures:recur';
    await h.latchkey.alerts.raise(finding({ dedupeKey: key }));
    const [first] = await byKey(key);
    await h.latchkey.alerts.resolve(first?.id ?? '', 'false positive: load test', { kind: 'cli', id: 'ops', ip: null, userAgent: null });
    h.clock.advance(5);
    await h.latchkey.alerts.raise(finding({ dedupeKey: key }));
    const alerts = await byKey(key);
    expect(alerts).toHaveLength(2);
    const [newest, older] = alerts;
    expect(newest).toMatchObject({ status: 'open', occurrences: 1, recurrenceOf: first?.id });
    expect(older).toMatchObject({ id: first?.id, status: 'resolved', resolved: { by: 'cli:ops', reason: 'false positive: load test' } });
  });

  it('filters by status, severity, detector and period, and pages newest first without gaps or repeats', async () => {
    h.clock.advance(3600);
    const since = h.clock.now().toISOString();
    for (let index = 0; index < 7; index += 1) {
      h.clock.advance(1);
      await h.latchkey.alerts.raise(finding({ dedupeKey: `department_spike:dept-${index}`, detectorId: 'department_spike', severity: index % 2 === 0 ? 'medium' : 'low', subject: null }));
    }
    const all = await list(`detector=department_spike&since=${encodeURIComponent(since)}&limit=500`);
    expect(all.alerts).toHaveLength(7);
    expect(all.alerts.map((alert) => alert.dedupeKey)).toEqual([6, 5, 4, 3, 2, 1, 0].map((index) => `department_spike:dept-${index}`));
    expect(all.nextAfter).toBeNull();

    const seen: string[] = [];
    let after: string | null = null;
    do {
      const page: Page = await list(`detector=department_spike&since=${encodeURIComponent(since)}&limit=3${after ? `&after=${after}` : ''}`);
      seen.push(...page.alerts.map((alert) => alert.id));
      after = page.nextAfter;
    } while (after);
    expect(seen).toEqual(all.alerts.map((alert) => alert.id));

    expect((await list(`detector=department_spike&severity=medium&since=${encodeURIComponent(since)}`)).alerts).toHaveLength(4);
    expect((await list(`status=resolved&detector=department_spike`)).alerts).toHaveLength(0);
    expect((await list(`detector=department_spike&until=${encodeURIComponent(since)}`)).alerts).toHaveLength(0);
    const open = await list('status=open&limit=500');
    expect(open.alerts.every((alert) => alert.status === 'open')).toBe(true);
  });

  it('refuses bad filters with a 400 that names the field', async () => {
    const cases: [string, RegExp][] = [
      ['status=closed', /status/],
      ['severity=urgent', /severity/],
      ['detector=Repeated%20Failures', /detector/],
      ['since=yesterday', /since/],
      ['since=2026-03-02T10:00:00Z&until=2026-03-02T09:00:00Z', /since must be before until/],
      ['limit=0', /limit/],
      ['after=not-a-cursor', /after/],
      ['colour=red', /colour|unrecognized|Unrecognized/i],
    ];
    for (const [query, message] of cases) {
      const body = expectProblem(await call(h, 'GET', `/api/admin/alerts?${query}`, undefined, { token: reader.token }), 400, 'request.invalid');
      expect(body['detail'], query).toMatch(message);
    }
    expectProblem(await call(h, 'GET', '/api/admin/alerts/not-a-uuid', undefined, { token: reader.token }), 400, 'request.invalid');
    expectProblem(await call(h, 'GET', '/api/admin/alerts/00000000-0000-4000-8000-000000000000', undefined, { token: reader.token }), 404, 'alert.not_found');
    const [alert] = (await list('limit=1')).alerts;
    for (const body of [{}, { reason: '' }, { reason: '   ' }, { reason: 'x'.repeat(501) }, { reason: 'ok', extra: 1 }]) {
      expectProblem(await call(h, 'POST', `/api/admin/alerts/${alert?.id ?? ''}/acknowledge`, body, { token: writer.token }), 400, 'request.invalid');
    }
  });

  it('refuses callers without a token or without the scope, and reads nothing for them', async () => {
    const [alert] = (await list('limit=1')).alerts;
    const id = alert?.id ?? '';
    expectProblem(await call(h, 'GET', '/api/admin/alerts'), 401, 'auth.required');
    expectProblem(await call(h, 'GET', '/api/admin/alerts', undefined, { token: 'lk_admin_' + 'A'.repeat(43) }), 401, 'auth.required');
    expectProblem(await call(h, 'GET', '/api/admin/alerts', undefined, { token: auditOnly.token }), 403, 'auth.forbidden');
    expectProblem(await call(h, 'GET', `/api/admin/alerts/${id}`, undefined, { token: writer.token }), 403, 'auth.forbidden');
    expectProblem(await call(h, 'POST', `/api/admin/alerts/${id}/acknowledge`, { reason: 'read-only token' }, { token: reader.token }), 403, 'auth.forbidden');
    expectProblem(await call(h, 'POST', `/api/admin/alerts/${id}/resolve`, { reason: 'no token' }), 401, 'auth.required');
    const after = await h.latchkey.store.alerts.get(id);
    expect(after?.status).toBe(alert?.status);
  });

  it('shows the subject as an account id, and its username only to a token that may read accounts; each read is audited', async () => {
    const key = 'repeated_failures:who';
    await h.latchkey.alerts.raise(finding({ dedupeKey: key }));
    const [alert] = await byKey(key);
    const plain = (await call(h, 'GET', `/api/admin/alerts/${alert?.id ?? ''}`, undefined, { token: reader.token })).json<{ alert: AlertDetail }>().alert;
    expect(plain.subject).toBe(alice.accountId);
    expect(plain).not.toHaveProperty('subjectUsername');
    const named = (await call(h, 'GET', `/api/admin/alerts/${alert?.id ?? ''}`, undefined, { token: readerWithAccounts.token })).json<{ alert: AlertDetail }>().alert;
    expect(named.subjectUsername).toBe('alice');
    const reads = (await auditEvents(h, { types: ['admin.alerts_queried'] })).filter((event) => event.data['alert_id'] === alert?.id);
    expect(reads.map((event) => event.actor.id)).toEqual([reader.id, readerWithAccounts.id]);
  });

  it('lists the alert routes in the OpenAPI document', async () => {
    const document = (await call(h, 'GET', '/api/openapi.json')).json<{ paths: Record<string, Record<string, unknown>> }>();
    expect(Object.keys(document.paths['/api/admin/alerts'] ?? {})).toContain('get');
    expect(Object.keys(document.paths['/api/admin/alerts/{id}'] ?? {})).toContain('get');
    expect(Object.keys(document.paths['/api/admin/alerts/{id}/acknowledge'] ?? {})).toContain('post');
    expect(Object.keys(document.paths['/api/admin/alerts/{id}/resolve'] ?? {})).toContain('post');
  });
});

describe.each(ENGINES)('the global notification cap on %s', (engine) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ engine, env: { LATCHKEY_ALERTS__EMAIL__RECIPIENTS: 'soc@corp.test', LATCHKEY_ALERTS__THROTTLE__GLOBAL_PER_MINUTE: '3' } });
  });
  afterAll(async () => {
    await h.close();
  });

  const spray = (index: number): Finding => ({
    detectorId: 'reset_spray',
    severity: index === 4 ? 'critical' : 'medium',
    dedupeKey: `reset_spray:ip:192.0.2.${index}`,
    summary: `Resets for 40 accounts from 192.0.2.${index}`,
    subject: null,
    ip: `192.0.2.${index}`,
    department: null,
    observed: { accounts: 40 },
    baseline: null,
    eventIds: [],
    at: h.clock.now(),
  });

  it('notifies at most N alerts a minute, audits the suppressed ones, then sends one summary naming them', async () => {
    // Raised all at once: the cap holds under concurrency, not only one after another.
    await Promise.all(Array.from({ length: 6 }, (_, index) => h.latchkey.alerts.raise(spray(index))));
    const subjects = (await allMessages(h)).map((message) => message.subject);
    expect(subjects).toHaveLength(3);
    const suppressed = await auditEvents(h, { types: ['alert.suppressed'] });
    expect(suppressed).toHaveLength(3);

    // Every alert is stored, notified or not.
    expect(await h.latchkey.store.alerts.list({ detectorId: 'reset_spray', limit: 10 })).toHaveLength(6);

    expect(await h.latchkey.alerts.flushSuppressed()).toBe(true);
    expect(await h.latchkey.alerts.flushSuppressed()).toBe(false);
    const summary = (await allMessages(h)).at(-1);
    expect(summary?.subject).toBe('[Latchkey] 3 alert notifications suppressed');
    const lines = (summary?.text ?? '').split('\n').filter((line) => line.startsWith('- ['));
    expect(lines).toHaveLength(3);
    for (const event of suppressed) expect(summary?.text).toContain(`(alert ${String(event.data['alert_id'])}, 1×)`);
    // The notified and the suppressed are the six alerts, each once.
    const mailed = subjects.map((subject) => /192\.0\.2\.(\d)$/.exec(subject)?.[1]);
    const summarised = lines.map((line) => /192\.0\.2\.(\d) \(alert/.exec(line)?.[1]);
    expect([...mailed, ...summarised].sort()).toEqual(['0', '1', '2', '3', '4', '5']);

    // Inside the minute nothing more goes out, and a new suppressed one waits for the next summary.
    await h.latchkey.alerts.raise(spray(6));
    expect(await h.latchkey.alerts.flushSuppressed()).toBe(false);
    h.clock.advance(60);
    expect(await h.latchkey.alerts.flushSuppressed()).toBe(true);
    expect((await allMessages(h)).at(-1)?.subject).toBe('[Latchkey] 1 alert notifications suppressed');
    // The summary and this alert share one clock instant, so their order in the outbox is not defined: compare what was added.
    const beforeNext = (await allMessages(h)).map((message) => message.subject);
    await h.latchkey.alerts.raise(spray(7));
    const afterNext = (await allMessages(h)).map((message) => message.subject);
    expect(afterNext).toHaveLength(beforeNext.length + 1);
    expect(afterNext.filter((subject) => subject === '[Latchkey] medium: Resets for 40 accounts from 192.0.2.7')).toHaveLength(1);
  });
});
