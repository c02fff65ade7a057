import { getCountries } from 'libphonenumber-js/max';
import type { ChannelKind } from '../methods/method-ids.ts';

/*
 * Declared travel, pure: what a trip is, when it counts, and how a recovery's country is judged
 * against the trips of the account. No I/O; the store, the clock and GeoIP are the callers'.
 */

/** A trip a person declared: the countries they expect to recover from, inclusive calendar dates (UTC). */
export interface TravelWindow {
  readonly id: string;
  readonly accountId: string;
  /** ISO 3166-1 alpha-2 codes, upper case, sorted, no repeats. */
  readonly countries: readonly string[];
  /** First day of the trip, `YYYY-MM-DD`. */
  readonly fromDate: string;
  /** Last day of the trip, `YYYY-MM-DD` (inclusive). */
  readonly toDate: string;
  /** When the trip starts to count: `fromDate` 00:00 UTC less the widest time-zone lead. */
  readonly startsAt: Date;
  /** When it stops counting: the day after `toDate`, 00:00 UTC, plus the widest time-zone lag. */
  readonly endsAt: Date;
  readonly createdAt: Date;
  readonly cancelledAt: Date | null;
}

/** A trip is at most this long: a longer absence is a relocation, for the helpdesk, not a trip. */
export const MAX_TRIP_DAYS = 92;
/** A trip may be declared at most this far ahead. */
export const MAX_DAYS_AHEAD = 365;
/** Trips an account may have declared and not yet finished (bounds the lookup and the list). */
export const MAX_OPEN_TRIPS = 10;
/** Countries per trip. */
export const MAX_COUNTRIES = 20;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Local dates run from UTC+14 to UTC-12, so a local calendar day spans these hours of UTC. */
const EARLIEST_LEAD_MS = 14 * HOUR_MS;
const LATEST_LAG_MS = 12 * HOUR_MS;

const COUNTRIES: ReadonlySet<string> = new Set(getCountries());
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Whether `code` is an ISO 3166-1 alpha-2 country code (upper case). */
export const isCountryCode = (code: string): boolean => COUNTRIES.has(code);

/** Midnight UTC of a `YYYY-MM-DD` date, or null for a malformed or impossible date (2026-02-30). */
export function utcDay(date: string): Date | null {
  const match = ISO_DATE.exec(date);
  if (!match) return null;
  const day = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return day.toISOString().slice(0, 10) === date ? day : null;
}

export interface TravelDeclaration {
  readonly countries: readonly string[];
  readonly fromDate: string;
  readonly toDate: string;
}

/** A declaration's problem, naming the field the person has to fix. */
export interface TravelProblem {
  readonly field: 'countries' | 'from' | 'to';
  readonly message: string;
}

/**
 * Checks a declaration against the calendar and the limits, and returns the window it makes.
 * `openTrips` is how many unfinished trips the account already has.
 */
export function planTrip(
  declaration: TravelDeclaration,
  now: Date,
  openTrips: number,
): { readonly ok: true; readonly countries: readonly string[]; readonly startsAt: Date; readonly endsAt: Date } | { readonly ok: false; readonly problem: TravelProblem } {
  const countries = [...new Set(declaration.countries.map((code) => code.trim().toUpperCase()))].sort();
  if (countries.length === 0 || countries.length > MAX_COUNTRIES) return { ok: false, problem: { field: 'countries', message: `name 1 to ${MAX_COUNTRIES} countries` } };
  const unknown = countries.find((code) => !isCountryCode(code));
  if (unknown !== undefined) return { ok: false, problem: { field: 'countries', message: `each must be an ISO 3166-1 alpha-2 country code such as DE or JP; ${JSON.stringify(unknown.slice(0, 8))} is not one` } };
  const from = utcDay(declaration.fromDate);
  if (!from) return { ok: false, problem: { field: 'from', message: 'must be a date in YYYY-MM-DD form' } };
  const to = utcDay(declaration.toDate);
  if (!to) return { ok: false, problem: { field: 'to', message: 'must be a date in YYYY-MM-DD form' } };
  if (to.getTime() < from.getTime()) return { ok: false, problem: { field: 'to', message: 'must be on or after the first day of the trip' } };
  const today = utcDay(now.toISOString().slice(0, 10)) as Date;
  if (to.getTime() < today.getTime() - DAY_MS) return { ok: false, problem: { field: 'to', message: 'is in the past: a trip can only be declared before it ends' } };
  if (from.getTime() > today.getTime() + MAX_DAYS_AHEAD * DAY_MS) return { ok: false, problem: { field: 'from', message: `must be within ${MAX_DAYS_AHEAD} days from today` } };
  if ((to.getTime() - from.getTime()) / DAY_MS + 1 > MAX_TRIP_DAYS) return { ok: false, problem: { field: 'to', message: `a trip lasts at most ${MAX_TRIP_DAYS} days; ask the helpdesk about a longer stay` } };
  if (openTrips >= MAX_OPEN_TRIPS) return { ok: false, problem: { field: 'from', message: `at most ${MAX_OPEN_TRIPS} trips can be declared at once; cancel one first` } };
  return { ok: true, countries, startsAt: new Date(from.getTime() - EARLIEST_LEAD_MS), endsAt: new Date(to.getTime() + DAY_MS + LATEST_LAG_MS) };
}

/** Whether a window is in force at `at`. */
export const isActiveAt = (window: TravelWindow, at: Date): boolean =>
  window.cancelledAt === null && window.startsAt.getTime() <= at.getTime() && at.getTime() < window.endsAt.getTime();

/**
 * How a recovery from `country` at `at` stands against the account's trips:
 * `no_trip` — no trip in force, the usual location rules apply;
 * `expected` — a trip in force names this country, so a new country is no surprise;
 * `elsewhere` — a trip is in force but names other countries: the person said they would be
 * somewhere else, so the recovery gets one more gate and a finding;
 * `unplaced` — a trip is in force and GeoIP cannot place the address: judged by nothing.
 */
export type TravelVerdict = 'no_trip' | 'expected' | 'elsewhere' | 'unplaced';

export function travelVerdict(windows: readonly TravelWindow[], at: Date, country: string | null): TravelVerdict {
  const active = windows.filter((window) => isActiveAt(window, at));
  if (active.length === 0) return 'no_trip';
  if (country === null) return 'unplaced';
  return active.some((window) => window.countries.includes(country)) ? 'expected' : 'elsewhere';
}

/** The countries of the trips in force at `at`, for audit data and findings. */
export const declaredCountries = (windows: readonly TravelWindow[], at: Date): string[] =>
  [...new Set(windows.filter((window) => isActiveAt(window, at)).flatMap((window) => window.countries))].sort();

/** Channels whose proof needs no mobile signal: an authenticator app, printed recovery codes, a security key or passkey. */
export const NO_SIGNAL_CHANNELS: ReadonlySet<ChannelKind> = new Set(['authenticator_app', 'printed_codes', 'security_key']);
