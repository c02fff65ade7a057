import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repeatedFailures } from '../../../src/core/monitoring/detectors/repeated-failures.ts';
import { resetSpray } from '../../../src/core/monitoring/detectors/reset-spray.ts';
import { unusualNetwork } from '../../../src/core/monitoring/detectors/unusual-network.ts';
import { recentMethodChange } from '../../../src/core/monitoring/detectors/recent-method-change.ts';
import { breakGlassTouch, privilegedRecovery } from '../../../src/core/monitoring/detectors/tier-touch.ts';
import { networkOf, distanceKm } from '../../../src/core/monitoring/detectors/network.ts';
import { detectorsFor } from '../../../src/core/monitoring/detectors/catalog.ts';
import { DETECTOR_IDS } from '../../../src/core/monitoring/detectors/detector.ts';
import { createFileDenyList, type FileDenyList } from '../../../src/adapters/geoip/deny-list-files.ts';
import { EventStream, Harness, NO_CONTEXT, shippedMonitoring } from './stream.ts';

const settings = shippedMonitoring();
const start = (stream: EventStream, fields: { subject?: string | null; ip?: string; identifier?: string; purpose?: string; tier?: 'standard' | 'privileged' | null; flowId?: string }) =>
  stream.record('recovery.started', {
    subject: fields.subject ?? null,
    ...(fields.ip ? { ip: fields.ip } : {}),
    tier: fields.tier === undefined ? (fields.subject ? 'standard' : null) : fields.tier,
    flowId: fields.flowId ?? null,
    data: { purpose: fields.purpose ?? 'reset', decoy: !fields.subject, identifier_hash: fields.identifier ?? `hash-of-${fields.subject ?? 'ghost'}` },
  });

describe('network arithmetic', () => {
  it('puts IPv4 addresses in their /24 and IPv6 addresses in their /64, IPv4-mapped IPv6 as IPv4', () => {
    expect(networkOf('192.0.2.77')).toBe('192.0.2.0/24');
    expect(networkOf('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(networkOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(networkOf('::ffff:198.51.100.9')).toBe('198.51.100.0/24');
    expect(networkOf('not-an-ip')).toBeNull();
    expect(networkOf('256.1.1.1')).toBeNull();
  });

  it('measures great-circle distances (Berlin to New York is about 6,385 km)', () => {
    expect(distanceKm({ latitude: 52.52, longitude: 13.405 }, { latitude: 40.7128, longitude: -74.006 })).toBeCloseTo(6385, -1);
  });
});

describe('the detector catalog', () => {
  it('builds every enabled detector of the shipped policy, and none that is off', () => {
    const ids = detectorsFor(settings).map((detector) => detector.id);
    expect(ids).toEqual(DETECTOR_IDS.filter((id) => id !== 'new_country' && id !== 'impossible_travel'));
    expect(detectorsFor({ ...settings, department_spike: { ...settings.department_spike, enabled: false } }).map((d) => d.id)).not.toContain('department_spike');
  });
});

describe('repeated_failures', () => {
  const rule = { ...settings.repeated_failures, perAccount: { count: 5, windowSeconds: 900 }, perIp: { count: 8, windowSeconds: 900 } };

  it('raises once when an account reaches the failure count within the window, citing every failure', () => {
    const stream = new EventStream('2026-03-02T10:00:00Z');
    const h = new Harness(repeatedFailures(rule));
    const ids: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      const failure = stream.advance(60).record('challenge.failed', { subject: 'builtin:alice', ip: `198.51.100.${i + 1}`, reason: 'challenge.invalid' });
      ids.push(failure.id);
      expect(h.feed(failure)).toEqual([]);
    }
    const fifth = stream.advance(60).record('challenge.exhausted', { subject: 'builtin:alice', ip: '198.51.100.9', reason: 'challenge.invalid' });
    const [finding, ...rest] = h.feed(fifth);
    expect(rest).toEqual([]);
    expect(finding).toMatchObject({
      detectorId: 'repeated_failures',
      severity: 'medium',
      dedupeKey: 'repeated_failures:account:builtin:alice',
      subject: 'builtin:alice',
      summary: '5 failed gates or refused passwords for one account within 15 minutes',
      baseline: 'threshold 5 failures per account in 15 minutes',
      observed: { scope: 'account', failures: 5, window_seconds: 900 },
      eventIds: [...ids, fifth.id],
      at: fifth.at,
    });
    // The same episode does not raise again.
    expect(h.feed(stream.advance(10).record('password.rejected', { subject: 'builtin:alice', ip: '198.51.100.10' }))).toEqual([]);
  });

  it('does not raise when the failures are spread wider than the window, and raises again for a new episode', () => {
    const stream = new EventStream('2026-03-02T10:00:00Z');
    const h = new Harness(repeatedFailures(rule));
    for (let i = 0; i < 10; i += 1) h.feed(stream.advance(240).record('challenge.failed', { subject: 'builtin:bob', ip: `198.51.100.${i}` }));
    expect(h.findings).toEqual([]);
    for (let i = 0; i < 5; i += 1) h.feed(stream.advance(5).record('challenge.failed', { subject: 'builtin:bob', ip: `198.51.100.${20 + i}` }));
    expect(h.findings).toHaveLength(1);
    stream.advance(3600);
    for (let i = 0; i < 5; i += 1) h.feed(stream.advance(5).record('challenge.failed', { subject: 'builtin:bob', ip: `198.51.100.${40 + i}` }));
    expect(h.findings).toHaveLength(2);
  });

  it('counts per address across accounts and decoys, and flags the address for the window', () => {
    const stream = new EventStream('2026-03-02T10:00:00Z');
    const h = new Harness(repeatedFailures(rule));
    for (let i = 0; i < 7; i += 1) h.feed(stream.advance(30).record('challenge.failed', { subject: i % 2 ? `builtin:user${i}` : null, ip: '203.0.113.9' }));
    expect(h.findings).toEqual([]);
    expect(h.flags).toEqual([]);
    const eighth = stream.advance(30).record('challenge.failed', { subject: null, ip: '203.0.113.9' });
    const [finding] = h.feed(eighth);
    expect(finding).toMatchObject({ dedupeKey: 'repeated_failures:ip:203.0.113.9', severity: 'high', ip: '203.0.113.9', subject: null, observed: { scope: 'ip', failures: 8 } });
    expect(finding?.eventIds).toHaveLength(8);
    expect(h.flags).toEqual([{ scope: 'ip', value: '203.0.113.9', untilMs: eighth.at.getTime() + 900_000, detectorId: 'repeated_failures' }]);
  });

  it('ignores successes and other events', () => {
    const stream = new EventStream('2026-03-02T10:00:00Z');
    const h = new Harness(repeatedFailures(rule));
    for (let i = 0; i < 20; i += 1) h.feed(stream.advance(1).record('challenge.passed', { subject: 'builtin:carol' }), stream.record('sign_in.failed', { subject: 'builtin:carol' }));
    expect(h.findings).toEqual([]);
  });
});

describe('reset_spray', () => {
  const rule = { ...settings.reset_spray, perIp: { accounts: 5, windowSeconds: 3600 }, perNetwork: { accounts: 8, windowSeconds: 3600 } };

  it('raises when one address starts resets for many distinct accounts, counting unknown identifiers by their hash', () => {
    const stream = new EventStream('2026-03-02T10:00:00Z');
    const h = new Harness(resetSpray(rule));
    h.feed(start(stream, { subject: 'builtin:a1', ip: '203.0.113.50' }));
    // The same account again is not a new target.
    h.feed(start(stream.advance(10), { subject: 'builtin:a1', ip: '203.0.113.50' }));
    h.feed(start(stream.advance(10), { subject: null, identifier: 'h-ghost1', ip: '203.0.113.50' }));
    h.feed(start(stream.advance(10), { subject: null, identifier: 'h-ghost2', ip: '203.0.113.50' }));
    expect(h.findings).toEqual([]);
    expect(h.feed(start(stream.advance(10), { subject: 'builtin:a2', ip: '203.0.113.50' }))).toEqual([]);
    const fifth = start(stream.advance(10), { subject: null, identifier: 'h-ghost3', ip: '203.0.113.50' });
    const [finding] = h.feed(fifth);
    expect(finding).toMatchObject({
      detectorId: 'reset_spray',
      dedupeKey: 'reset_spray:ip:203.0.113.50',
      summary: 'one address (203.0.113.50) started recoveries for 5 different accounts within 1 hour',
      observed: { distinct_targets: 5, known_accounts: 2, unknown_identifiers: 3 },
    });
    // One start per target, the latest for a repeated one (builtin:a1 started twice: e1 then e2).
    expect(finding?.eventIds).toEqual(['e2', 'e3', 'e4', 'e5', 'e6']);
    expect(finding?.baseline).toBe('threshold 5 distinct accounts per address in 1 hour');
  });

  it('raises at the threshold of distinct accounts, with the starts as evidence, and flags the address', () => {
    const stream = new EventStream('2026-03-02T10:00:00Z');
    const h = new Harness(resetSpray(rule));
    const starts = ['u1', 'u2', 'u3', 'u4', 'u5'].map((name) => start(stream.advance(30), { subject: `builtin:${name}`, ip: '203.0.113.50' }));
    const found = h.feed(...starts);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ summary: 'one address (203.0.113.50) started recoveries for 5 different accounts within 1 hour', eventIds: starts.map((s) => s.id), severity: 'high' });
    expect(h.flags.at(-1)).toEqual({ scope: 'ip', value: '203.0.113.50', untilMs: starts[4]!.at.getTime() + 3_600_000, detectorId: 'reset_spray' });
  });

  it('does not raise below the threshold, outside the window, or for sign-in gates', () => {
    const stream = new EventStream('2026-03-02T10:00:00Z');
    const h = new Harness(resetSpray(rule));
    for (let i = 0; i < 4; i += 1) h.feed(start(stream.advance(60), { subject: `builtin:v${i}`, ip: '198.51.100.20' }));
    for (let i = 0; i < 10; i += 1) h.feed(start(stream.advance(1000), { subject: `builtin:w${i}`, ip: '198.51.100.21' }));
    for (let i = 0; i < 10; i += 1) h.feed(start(stream.advance(1), { subject: `builtin:x${i}`, ip: '198.51.100.22', purpose: 'sign_in' }));
    expect(h.findings).toEqual([]);
  });

  it('sees a spray spread over one IPv6 /64 as one network', () => {
    const stream = new EventStream('2026-03-02T10:00:00Z');
    const h = new Harness(resetSpray(rule));
    for (let i = 0; i < 8; i += 1) h.feed(start(stream.advance(20), { subject: `builtin:n${i}`, ip: `2001:db8:5:6::${(i + 1).toString(16)}` }));
    expect(h.findings.map((f) => f.dedupeKey)).toEqual(['reset_spray:network:2001:db8:5:6::/64']);
    expect(h.findings[0]?.summary).toBe('one network (2001:db8:5:6::/64) started recoveries for 8 different accounts within 1 hour');
  });
});

describe('unusual_network', () => {
  let dir: string;
  let denyList: FileDenyList;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-deny-'));
    await writeFile(join(dir, 'tor-exits.txt'), '# Tor exit nodes\n203.0.113.66\n2001:db8:dead::/48 # a whole range\n');
    denyList = await createFileDenyList({ files: [join(dir, 'tor-exits.txt')] });
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('learns networks from successes and raises for a start from a network the account never succeeded from', () => {
    const stream = new EventStream('2026-03-02T10:00:00Z');
    const h = new Harness(unusualNetwork(settings.unusual_network));
    // No history yet: the first start teaches nothing and raises nothing.
    expect(h.feed(start(stream, { subject: 'builtin:dana', ip: '198.51.100.4' }))).toEqual([]);
    h.feed(stream.advance(60).record('sign_in.succeeded', { subject: 'builtin:dana', ip: '198.51.100.4' }));
    expect(h.feed(start(stream.advance(60), { subject: 'builtin:dana', ip: '198.51.100.200' }))).toEqual([]);
    const odd = start(stream.advance(60), { subject: 'builtin:dana', ip: '192.0.2.10' });
    const [finding] = h.feed(odd);
    expect(finding).toMatchObject({
      detectorId: 'unusual_network',
      severity: 'low',
      dedupeKey: 'unusual_network:builtin:dana:192.0.2.0/24',
      summary: 'A reset was started for an account from a network it never succeeded from before',
      baseline: 'networks and providers this account succeeded from before: 198.51.100.0/24',
      eventIds: [odd.id],
    });
  });

  it('does not learn from failures or starts, so an attacker cannot make a network familiar by trying', () => {
    const stream = new EventStream('2026-03-02T10:00:00Z');
    const h = new Harness(unusualNetwork(settings.unusual_network));
    h.feed(stream.record('recovery.completed', { subject: 'builtin:erik', ip: '198.51.100.4', data: { purpose: 'reset' } }));
    h.feed(stream.advance(5).record('challenge.failed', { subject: 'builtin:erik', ip: '192.0.2.99' }));
    h.feed(start(stream.advance(5), { subject: 'builtin:erik', ip: '192.0.2.99' }));
    expect(h.feed(start(stream.advance(5), { subject: 'builtin:erik', ip: '192.0.2.98' }))).toHaveLength(1);
  });

  it('raises for any start from a deny-listed address, naming the list and entry, at most once an hour per address', () => {
    const stream = new EventStream('2026-03-02T10:00:00Z');
    const h = new Harness(unusualNetwork(settings.unusual_network), { ...NO_CONTEXT, denyList });
    const first = start(stream, { subject: null, identifier: 'h1', ip: '2001:db8:dead:1::5' });
    expect(h.feed(first)).toEqual([
      expect.objectContaining({
        dedupeKey: 'unusual_network:deny:2001:db8:dead:1::5',
        severity: 'high',
        summary: 'A recovery was started from an address on the deny list tor-exits.txt (2001:db8:dead::/48)',
        observed: expect.objectContaining({ deny_list: 'tor-exits.txt', entry: '2001:db8:dead::/48' }),
        eventIds: [first.id],
      }),
    ]);
    expect(h.feed(start(stream.advance(600), { subject: null, identifier: 'h2', ip: '2001:db8:dead:1::5' }))).toEqual([]);
    expect(h.feed(start(stream.advance(3000), { subject: null, identifier: 'h3', ip: '2001:db8:dead:1::5' }))).toHaveLength(1);
    expect(h.feed(start(stream.advance(1), { subject: null, identifier: 'h3', ip: '203.0.113.67' }))).toEqual([]);
  });
});

describe('recent_method_change', () => {
  const rule = { ...settings.recent_method_change, windowSeconds: 86_400, methods: ['sms_code' as const, 'email_code' as const] };

  it('raises for a reset started within the window after a phone was added, once per flow, citing the change', () => {
    const stream = new EventStream('2026-03-02T10:00:00Z');
    const h = new Harness(recentMethodChange(rule));
    const change = stream.record('enrollment.activated', { subject: 'builtin:fay', data: { method: 'sms_code', enrollment_id: 'en1' } });
    h.feed(change);
    const begun = start(stream.advance(2 * 3600), { subject: 'builtin:fay', flowId: 'flow-1' });
    const [finding] = h.feed(begun);
    expect(finding).toMatchObject({
      detectorId: 'recent_method_change',
      severity: 'high',
      summary: 'A reset was started 120 minutes after a sms_code method was added on the account',
      observed: { last_method: 'sms_code', last_change: 'added', minutes_since_change: 120 },
      eventIds: [change.id, begun.id],
      baseline: 'recoveries within 24 hours of a change to sms_code, email_code',
    });
    const done = stream.advance(300).record('recovery.completed', { subject: 'builtin:fay', flowId: 'flow-1', data: { purpose: 'reset' } });
    expect(h.feed(done)).toEqual([]);
  });

  it('does not raise outside the window, for methods not listed, or for a sign-in', () => {
    const stream = new EventStream('2026-03-02T10:00:00Z');
    const h = new Harness(recentMethodChange(rule));
    h.feed(stream.record('enrollment.removed', { subject: 'builtin:gus', data: { method: 'email_code' } }));
    h.feed(start(stream.advance(86_401), { subject: 'builtin:gus', flowId: 'f1' }));
    h.feed(stream.record('enrollment.activated', { subject: 'builtin:gus', data: { method: 'totp' } }));
    h.feed(start(stream.advance(60), { subject: 'builtin:gus', flowId: 'f2' }));
    h.feed(stream.record('enrollment.activated', { subject: 'builtin:gus', data: { method: 'sms_code' } }));
    h.feed(start(stream.advance(60), { subject: 'builtin:gus', flowId: 'f3', purpose: 'sign_in' }));
    expect(h.findings).toEqual([]);
    expect(h.feed(start(stream.advance(60), { subject: 'builtin:gus', flowId: 'f4', purpose: 'unlock' }))[0]?.summary).toBe('A unlock was started 2 minutes after a sms_code method was added on the account');
  });
});

describe('privileged_recovery and break_glass_touch', () => {
  it('raises every start and completion of a privileged recovery under one alert per flow, and nothing for standard accounts', () => {
    const stream = new EventStream('2026-03-02T10:00:00Z');
    const h = new Harness(privilegedRecovery());
    expect(h.feed(start(stream, { subject: 'builtin:ann', tier: 'standard', flowId: 'f0' }))).toEqual([]);
    const begun = start(stream, { subject: 'builtin:root', tier: 'privileged', flowId: 'f1' });
    const done = stream.advance(120).record('recovery.completed', { subject: 'builtin:root', tier: 'privileged', flowId: 'f1', data: { purpose: 'reset' } });
    const found = h.feed(begun, done);
    expect(found.map((f) => [f.dedupeKey, f.summary, f.severity, f.eventIds])).toEqual([
      ['privileged_recovery:f1', 'A reset of a privileged account was started', 'high', [begun.id]],
      ['privileged_recovery:f1', 'A reset of a privileged account completed', 'high', [done.id]],
    ]);
    expect(h.feed(start(stream, { subject: 'builtin:root', tier: 'privileged', flowId: 'f2', purpose: 'sign_in' }))).toEqual([]);
  });

  it('raises a critical finding for any event naming the break-glass tier', () => {
    const stream = new EventStream('2026-03-02T10:00:00Z');
    const h = new Harness(breakGlassTouch());
    const refused = stream.record('recovery.refused', { subject: 'builtin:bg1', tier: 'break_glass', flowId: 'f9', reason: 'self_service.unavailable', data: { tier: 'break_glass' } });
    expect(h.feed(start(stream, { subject: null, flowId: 'f9' }), refused)).toEqual([
      expect.objectContaining({ detectorId: 'break_glass_touch', severity: 'critical', dedupeKey: 'break_glass_touch:f9', summary: 'A break-glass account was touched: recovery.refused (self_service.unavailable)', eventIds: [refused.id], subject: 'builtin:bg1' }),
    ]);
  });
});
