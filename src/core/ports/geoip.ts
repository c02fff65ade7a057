/*
 * Network intelligence the detectors consult: where an address is (GeoIP) and whether an operator
 * has listed it (deny lists such as Tor exit nodes). Both are in-memory lookups after loading, so
 * the recovery start path can ask them without I/O.
 */

/** What a GeoIP database says about one address; any part may be missing from the database. */
export interface GeoLocation {
  /** ISO 3166-1 alpha-2 code, e.g. `DE`. */
  readonly country: string | null;
  readonly latitude: number | null;
  readonly longitude: number | null;
  /** Autonomous system number, when the database (or a separate ASN database) has it. */
  readonly asn: number | null;
}

/**
 * Looks addresses up in a MaxMind-format database the operator supplies. Synchronous: the database
 * is memory-mapped or read into memory when opened. Returns null for an address the database does
 * not cover or a string that is not an address. Safe to call concurrently.
 */
export interface GeoIpLookup {
  lookup(ip: string): GeoLocation | null;
}

/**
 * Operator-supplied lists of addresses and networks to distrust. Synchronous and in memory; the
 * adapter reloads its files in the background, and a lookup always sees one complete version of
 * them (a reload swaps the whole set at once).
 */
export interface NetworkDenyList {
  /** The list entry (`IP` or `CIDR`) and the file that listed it, or null when no list has the address. */
  match(ip: string): { readonly entry: string; readonly list: string } | null;
}
