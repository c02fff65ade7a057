import type { AccountId } from '../account/ids.ts';
import type { TravelWindows } from '../monitoring/detectors/detector.ts';
import type { GeoIpLookup } from '../ports/geoip.ts';
import { declaredCountries, travelVerdict, type TravelVerdict, type TravelWindow } from './travel.ts';

/**
 * Every account's declared trips, in memory, for the detectors (whose rules are synchronous and do
 * no I/O). The travel service loads it from the store at start-up and on every refresh, and updates
 * it on each declaration and cancellation in this process; another instance's changes arrive with
 * the next refresh (`detectors.refreshIntervalSeconds`). A refresh swaps the whole map at once, so
 * a lookup always sees one complete version.
 */
export class TravelWindowIndex implements TravelWindows {
  private byAccount = new Map<string, readonly TravelWindow[]>();

  /** Replaces everything with a freshly loaded set. */
  replaceAll(windows: readonly TravelWindow[]): void {
    const next = new Map<string, TravelWindow[]>();
    for (const window of windows) {
      const list = next.get(window.accountId) ?? [];
      list.push(window);
      next.set(window.accountId, list);
    }
    this.byAccount = next;
  }

  /** Adds or replaces one window (a declaration or a cancellation made here). */
  put(window: TravelWindow): void {
    const others = (this.byAccount.get(window.accountId) ?? []).filter((item) => item.id !== window.id);
    const next = new Map(this.byAccount);
    next.set(window.accountId, [...others, window]);
    this.byAccount = next;
  }

  windowsOf(account: string): readonly TravelWindow[] {
    return this.byAccount.get(account) ?? [];
  }

  isTravelling(account: AccountId, at: Date): boolean {
    return travelVerdict(this.windowsOf(account), at, null) !== 'no_trip';
  }

  verdict(account: AccountId, at: Date, country: string | null): TravelVerdict {
    return travelVerdict(this.windowsOf(account), at, country);
  }
}

/** What the recovery start learns about a trip: the verdict, where the request is, and what was declared. */
export interface TravelAssessment {
  readonly verdict: TravelVerdict;
  readonly country: string | null;
  readonly declared: readonly string[];
}

/**
 * Judges a recovery start's address against the account's declared trips: GeoIP places the
 * address, the index knows the trips. In memory only, so a start for an account with trips takes as
 * long as one without (ENUM-2).
 */
export class TravelStartCheck {
  constructor(
    private readonly index: TravelWindowIndex,
    private readonly geo: GeoIpLookup | null,
  ) {}

  assessStart(accountId: string | null, ip: string, at: Date): TravelAssessment {
    const windows = accountId === null ? [] : this.index.windowsOf(accountId);
    const country = this.geo?.lookup(ip)?.country ?? null;
    const verdict = travelVerdict(windows, at, country);
    return { verdict, country, declared: verdict === 'no_trip' ? [] : declaredCountries(windows, at) };
  }
}
