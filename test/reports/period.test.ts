import { describe, expect, it } from 'vitest';
import { dayIn, parseReportPeriod, startOfDay } from '../../src/core/reports/period.ts';

describe('report periods in time zones', () => {
  it('finds where a calendar day begins on either side of a DST change', () => {
    // Paris moves from +01:00 to +02:00 at 01:00 UTC on 29 March 2026.
    expect(startOfDay('2026-03-29', 'Europe/Paris').toISOString()).toBe('2026-03-28T23:00:00.000Z');
    expect(startOfDay('2026-03-30', 'Europe/Paris').toISOString()).toBe('2026-03-29T22:00:00.000Z');
    // And back on 25 October 2026: that day is 25 hours long.
    expect(startOfDay('2026-10-26', 'Europe/Paris').getTime() - startOfDay('2026-10-25', 'Europe/Paris').getTime()).toBe(25 * 3_600_000);
    expect(startOfDay('2026-03-02', 'Asia/Kathmandu').toISOString()).toBe('2026-03-01T18:15:00.000Z');
    expect(startOfDay('2026-03-02', 'UTC').toISOString()).toBe('2026-03-02T00:00:00.000Z');
  });

  it('names the calendar day of an instant in a zone', () => {
    expect(dayIn('America/New_York', Date.parse('2026-03-02T04:59:59Z'))).toBe('2026-03-01');
    expect(dayIn('America/New_York', Date.parse('2026-03-02T05:00:00Z'))).toBe('2026-03-02');
    expect(dayIn('Asia/Kolkata', Date.parse('2026-03-01T18:30:00Z'))).toBe('2026-03-02');
  });

  it('allows a full year of local days across a DST change, and no more', () => {
    // 25 October 2025 begins in summer time, 26 October 2026 in winter time: 366 days and an hour.
    expect(parseReportPeriod({ from: '2025-10-25', to: '2026-10-26', timeZone: 'Europe/Paris' }).ok).toBe(true);
    expect(parseReportPeriod({ from: '2025-10-25', to: '2026-10-27', timeZone: 'Europe/Paris' })).toEqual({ ok: false, problems: ['to: the period may be at most 366 days long'] });
  });

  it('keeps instants with an offset as they are, whatever the zone', () => {
    const parsed = parseReportPeriod({ from: '2026-03-02T08:00:00+01:00', to: '2026-03-03', timeZone: 'Europe/Paris' });
    expect(parsed).toEqual({ ok: true, period: { from: new Date('2026-03-02T07:00:00Z'), to: new Date('2026-03-02T23:00:00Z'), timeZone: 'Europe/Paris' } });
  });
});
