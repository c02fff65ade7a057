import { z } from 'zod';
import type { ReportPeriod } from '../ports/store.ts';

/** The longest period one report covers: a year, leap day included. */
export const MAX_REPORT_DAYS = 366;
const DAY_MS = 86_400_000;

const dateOnly = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True when `name` is an IANA time zone this runtime knows (`Europe/Paris`, `UTC`). */
function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const wallClockFormats = new Map<string, Intl.DateTimeFormat>();
/** How far the zone's wall clock is ahead of UTC at `instantMs`, in milliseconds. */
function zoneOffsetMs(timeZone: string, instantMs: number): number {
  let format = wallClockFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    wallClockFormats.set(timeZone, format);
  }
  const part = (type: Intl.DateTimeFormatPartTypes): number => Number(format.formatToParts(instantMs).find((item) => item.type === type)?.value);
  const wallClock = Date.UTC(part('year'), part('month') - 1, part('day'), part('hour'), part('minute'), part('second'));
  return wallClock - Math.floor(instantMs / 1000) * 1000;
}

/**
 * The instant a calendar date begins in a time zone. The offset is read twice because it may change
 * between the UTC guess and the true instant (a date starting just after a DST switch).
 */
export function startOfDay(date: string, timeZone: string): Date {
  const [, year, month, day] = dateOnly.exec(date) ?? [];
  const guess = Date.UTC(Number(year), Number(month) - 1, Number(day));
  const first = guess - zoneOffsetMs(timeZone, guess);
  const second = guess - zoneOffsetMs(timeZone, first);
  return new Date(second);
}

const dayFormats = new Map<string, Intl.DateTimeFormat>();
/** The calendar date (YYYY-MM-DD) of an instant in a time zone. */
export function dayIn(timeZone: string, instantMs: number): string {
  let format = dayFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dayFormats.set(timeZone, format);
  }
  return format.format(instantMs);
}

/** The calendar date after `date` (YYYY-MM-DD). */
export const nextDay = (date: string): string => new Date(Date.parse(`${date}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);

const isCalendarDate = (text: string): boolean => {
  // Date rolls 2026-02-30 over to 2 March and calls 2026-13-01 invalid: both are refused.
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === text;
};

/**
 * A period bound: a calendar date (`2026-03-01`, midnight in the report's time zone) or an ISO 8601
 * date and time with its offset (`2026-03-01T08:00:00+01:00`). Anything else, including a date that
 * does not exist (`2026-02-30`), is refused with a message naming the accepted forms.
 */
const bound = z
  .string()
  .max(40)
  .refine((text) => (dateOnly.test(text) ? isCalendarDate(text) : z.iso.datetime({ offset: true }).safeParse(text).success), {
    message: 'must be a date (YYYY-MM-DD, midnight in timeZone) or an ISO 8601 date and time with an offset (2026-03-01T08:00:00Z)',
    // The period checks below must not run on a bound that is not a date.
    abort: true,
  });

/** A report period with its time zone: days in the report are calendar days there. */
export interface ZonedReportPeriod extends ReportPeriod {
  readonly timeZone: string;
}

/**
 * The period of a report, [from, to), and the IANA time zone its days are counted in (default UTC):
 * `from` must be before `to`, and the period at most {@link MAX_REPORT_DAYS} days long, so one
 * request cannot ask the database for years of events. Shared by the API's query schema and the
 * CLI, so both refuse the same inputs with the same words.
 */
export const reportPeriodSchema = z
  .object({
    from: bound,
    to: bound,
    timeZone: z
      .string()
      .max(64)
      .default('UTC')
      .refine(isTimeZone, { message: 'must be an IANA time zone name such as UTC or Europe/Paris', abort: true }),
  })
  .transform(({ from, to, timeZone }): ZonedReportPeriod => {
    const instant = (text: string): Date => (dateOnly.test(text) ? startOfDay(text, timeZone) : new Date(text));
    return { from: instant(from), to: instant(to), timeZone };
  })
  .refine((period) => period.from.getTime() < period.to.getTime(), { message: 'from must be before to', path: ['to'] })
  .refine((period) => period.to.getTime() - period.from.getTime() <= MAX_REPORT_DAYS * DAY_MS + 3_600_000, {
    // An hour of slack: a year of local days can be an hour longer than 366 × 24 h across a DST change.
    message: `the period may be at most ${MAX_REPORT_DAYS} days long`,
    path: ['to'],
  });

/** Parses a period, or returns the problems as `field: message` lines. */
export function parseReportPeriod(input: { from: unknown; to: unknown; timeZone?: unknown }): { ok: true; period: ZonedReportPeriod } | { ok: false; problems: string[] } {
  const parsed = reportPeriodSchema.safeParse(input);
  if (parsed.success) return { ok: true, period: parsed.data };
  return { ok: false, problems: parsed.error.issues.map((issue) => `${issue.path.join('.') || 'period'}: ${issue.message}`) };
}
