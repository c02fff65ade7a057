import { readFile, stat } from 'node:fs/promises';
import { Reader } from 'maxmind';
import type { GeoIpLookup, GeoLocation } from '../../core/ports/geoip.ts';
import { parseIp } from '../../core/monitoring/detectors/network.ts';

/** The parts of a MaxMind record the detectors read; City, Country, ASN and Enterprise layouts all fit. */
interface GeoRecord {
  readonly country?: { readonly iso_code?: string };
  readonly registered_country?: { readonly iso_code?: string };
  readonly location?: { readonly latitude?: number; readonly longitude?: number };
  readonly autonomous_system_number?: number;
}

export class GeoIpDatabaseError extends Error {
  override readonly name = 'GeoIpDatabaseError';
}

async function openReader(path: string): Promise<{ reader: Reader<never>; mtimeMs: number }> {
  try {
    const [buffer, info] = await Promise.all([readFile(path), stat(path)]);
    return { reader: new Reader<never>(buffer), mtimeMs: info.mtimeMs };
  } catch (error) {
    throw new GeoIpDatabaseError(`cannot open GeoIP database ${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

function read(reader: Reader<never> | null, ip: string): GeoRecord | null {
  if (!reader) return null;
  try {
    return reader.get(ip) as GeoRecord | null;
  } catch {
    // Not an address (a test client's name, `system`): nothing to say about it.
    return null;
  }
}

export interface MaxmindGeoIp extends GeoIpLookup {
  /** Re-reads a database file whose modification time changed (the operator dropped in an update). */
  refresh(): Promise<boolean>;
}

/**
 * A GeoIpLookup over MaxMind-format databases (GeoLite2/GeoIP2 City or Country, optionally a
 * separate ASN database, or one database that has both). The files are read into memory, so a
 * lookup is a synchronous tree walk with no I/O; `refresh` swaps in a changed file whole.
 */
export async function createMaxmindGeoIp(options: { cityDatabase: string; asnDatabase?: string | undefined }): Promise<MaxmindGeoIp> {
  let city = await openReader(options.cityDatabase);
  let asn = options.asnDatabase ? await openReader(options.asnDatabase) : null;
  return {
    lookup(raw): GeoLocation | null {
      // A dual-stack listener reports IPv4 clients as `::ffff:a.b.c.d`; databases file them as IPv4.
      const parsed = parseIp(raw);
      const ip = parsed?.family === 4 ? parsed.octets.join('.') : raw;
      const place = read(city.reader, ip);
      const provider = asn ? read(asn.reader, ip) : place;
      if (!place && !provider) return null;
      const latitude = place?.location?.latitude;
      const longitude = place?.location?.longitude;
      return {
        country: place?.country?.iso_code ?? place?.registered_country?.iso_code ?? null,
        latitude: typeof latitude === 'number' ? latitude : null,
        longitude: typeof longitude === 'number' ? longitude : null,
        asn: typeof provider?.autonomous_system_number === 'number' ? provider.autonomous_system_number : null,
      };
    },
    async refresh() {
      let changed = false;
      if ((await stat(options.cityDatabase)).mtimeMs !== city.mtimeMs) {
        city = await openReader(options.cityDatabase);
        changed = true;
      }
      if (options.asnDatabase && asn && (await stat(options.asnDatabase)).mtimeMs !== asn.mtimeMs) {
        asn = await openReader(options.asnDatabase);
        changed = true;
      }
      return changed;
    },
  };
}
