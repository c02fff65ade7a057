import { describe, expect, it } from 'vitest';
import { departmentSpike, poissonUpperTail } from '../../../src/core/monitoring/detectors/department-spike.ts';
import type { AuditRecord } from '../../../src/core/audit/events.ts';
import { EventStream, Harness, shippedMonitoring } from './stream.ts';

const settings = shippedMonitoring().department_spike;
const WEEK = 7 * 86_400;
/** A Monday, 00:00 UTC: weeks of synthetic traffic start here. */
const MONDAY = '2026-02-02T00:00:00Z';

function failures(stream: EventStream, department: string, count: number, spreadSeconds = 3000): AuditRecord[] {
  const step = Math.floor(spreadSeconds / Math.max(count, 1));
  return Array.from({ length: count }, (_, i) => stream.advance(i === 0 ? 0 : step).record('challenge.failed', { subject: `builtin:${department}-${i}`, department, ip: `198.51.100.${i % 250}` }));
}

function resets(stream: EventStream, department: string, count: number): AuditRecord[] {
  return Array.from({ length: count }, (_, i) => stream.advance(i === 0 ? 0 : 120).record('password.reset', { subject: `builtin:${department}-${i}`, department }));
}

/** Background traffic: a few events every weekday at 11:00, so the detector has been watching all along. */
function weekOfBackground<S>(h: Harness<S>, stream: EventStream, weekStart: Date): void {
  for (let day = 0; day < 5; day += 1) {
    stream.at(new Date(weekStart.getTime() + (day * 86_400 + 11 * 3600) * 1000));
    h.feed(...failures(stream, 'Engineering', 2));
  }
}

describe('department_spike', () => {
  it('computes the Poisson upper tail precisely, also far out in the tail', () => {
    expect(poissonUpperTail(0, 3)).toBe(1);
    expect(poissonUpperTail(1, 2)).toBeCloseTo(1 - Math.exp(-2), 12);
    // P(X ≥ 10 | λ = 1) = 1.1142547833872e-7
    expect(poissonUpperTail(10, 1)).toBeCloseTo(1.1142547833872e-7, 18);
    expect(poissonUpperTail(40, 40)).toBeGreaterThan(0.45);
    expect(poissonUpperTail(61, 40)).toBeLessThan(0.002);
  });

  it('does not raise for a busy Monday 09:00 that always brings about 40 failures', () => {
    const stream = new EventStream(MONDAY);
    const h = new Harness(departmentSpike(settings));
    const usual = [38, 41, 40, 42];
    usual.forEach((count, week) => {
      const weekStart = new Date(new Date(MONDAY).getTime() + week * WEEK * 1000);
      weekOfBackground(h, stream, weekStart);
      stream.at(new Date(weekStart.getTime() + 9 * 3600 * 1000));
      h.feed(...failures(stream, 'Sales', count));
    });
    expect(h.findings).toEqual([]);
    const fifthMonday = new Date(new Date(MONDAY).getTime() + 4 * WEEK * 1000);
    weekOfBackground(h, stream, fifthMonday);
    stream.at(new Date(fifthMonday.getTime() + 9 * 3600 * 1000));
    expect(h.feed(...failures(stream, 'Sales', 47))).toEqual([]);
  });

  it('raises when the busy Monday goes far beyond its usual, with the baseline explained', () => {
    const stream = new EventStream(MONDAY);
    const h = new Harness(departmentSpike(settings));
    for (let week = 0; week < 4; week += 1) {
      stream.at(new Date(new Date(MONDAY).getTime() + (week * WEEK + 9 * 3600) * 1000));
      h.feed(...failures(stream, 'Sales', 40));
    }
    stream.at(new Date(new Date(MONDAY).getTime() + (4 * WEEK + 9 * 3600) * 1000));
    const surge = failures(stream, 'Sales', 90);
    const found = h.feed(...surge);
    expect(found).toHaveLength(1);
    const count = Number(found[0]?.observed['count']);
    expect(count).toBeGreaterThanOrEqual(55);
    expect(count).toBeLessThanOrEqual(65);
    expect(found[0]).toMatchObject({
      detectorId: 'department_spike',
      department: 'Sales',
      summary: `${count} failures in Sales this hour, against a usual 40.0 on Mondays 09:00 UTC`,
      observed: { metric: 'failures', baseline_mean: 40, hour_start: '2026-03-02T09:00:00.000Z' },
    });
    expect(found[0]?.baseline).toMatch(/^mean 40\.00\/h on Mondays 09:00 UTC over 4 weeks \(samples 40, 40, 40, 40\); Poisson P\(X ≥ \d+ \| λ=40\.00\) = [\d.e-]+ < 0\.001$/);
    // The newest 50 events of the hour are the evidence, ending with the one that tipped it over.
    expect(found[0]?.eventIds).toHaveLength(50);
    expect(found[0]?.eventIds.at(-1)).toBe(surge[count - 1]?.id);
  });

  it('raises for a quiet department’s sudden ten resets, once for the hour', () => {
    const stream = new EventStream(MONDAY);
    const h = new Harness(departmentSpike(settings));
    for (let week = 0; week < 4; week += 1) weekOfBackground(h, stream, new Date(new Date(MONDAY).getTime() + week * WEEK * 1000));
    // Legal resets a password about once a month, on a Tuesday afternoon.
    stream.at('2026-02-10T14:20:00Z');
    h.feed(...resets(stream, 'Legal', 1));
    expect(h.findings).toEqual([]);
    stream.at('2026-03-03T14:00:00Z');
    const ten = resets(stream, 'Legal', 10);
    const found = h.feed(...ten);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      detectorId: 'department_spike',
      department: 'Legal',
      subject: null,
      ip: null,
      dedupeKey: `department_spike:Legal:resets:${Math.floor(Date.parse('2026-03-03T14:00:00Z') / 3_600_000)}`,
      summary: '5 resets in Legal this hour, against a usual 0.3 on Tuesdays 14:00 UTC',
      severity: 'high',
      baseline: 'mean 0.25/h on Tuesdays 14:00 UTC over 4 weeks (samples 0, 0, 1, 0); Poisson P(X ≥ 5 | λ=0.50) = 0.000172 < 0.001',
      eventIds: ten.slice(0, 5).map((record) => record.id),
    });
  });

  it('stays quiet below the minimum count, and while there is no week of history to compare with', () => {
    const stream = new EventStream(MONDAY);
    const h = new Harness(departmentSpike({ ...settings, minCount: 12 }));
    stream.at('2026-02-03T14:00:00Z');
    h.feed(...resets(stream, 'Legal', 30));
    expect(h.findings).toEqual([]);
    stream.at('2026-02-17T14:00:00Z');
    h.feed(...resets(stream, 'Finance', 11));
    expect(h.findings).toEqual([]);
    h.feed(...resets(stream, 'Finance', 1));
    expect(h.findings.map((f) => f.summary)).toEqual(['12 resets in Finance this hour, against a usual 0.0 on Tuesdays 14:00 UTC']);
  });
});
