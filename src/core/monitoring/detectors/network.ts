/*
 * Address arithmetic the detectors need, pure and in memory: the network an address belongs to
 * (IPv4 /24, IPv6 /64, the sizes one operator or one customer line usually holds) and the distance
 * between two points on the globe.
 */

function ipv4Octets(ip: string): number[] | null {
  const parts = ip.split('.');
  if (parts.length !== 4) return null;
  const octets = parts.map((part) => (/^\d{1,3}$/.test(part) ? Number(part) : NaN));
  return octets.every((octet) => Number.isInteger(octet) && octet <= 255) ? octets : null;
}

/** The eight 16-bit groups of an IPv6 address, or null. An embedded IPv4 tail is accepted. */
function ipv6Groups(ip: string): number[] | null {
  let text = ip.split('%')[0] ?? '';
  if (text.includes('.')) {
    // An embedded IPv4 tail (`::ffff:192.0.2.1`) becomes the two hex groups it stands for.
    const lastColon = text.lastIndexOf(':');
    const octets = ipv4Octets(text.slice(lastColon + 1));
    if (lastColon < 0 || !octets) return null;
    const [a = 0, b = 0, c = 0, d = 0] = octets;
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (half: string | undefined): number[] | null => {
    if (half === undefined || half === '') return [];
    const groups = half.split(':').map((group) => (/^[0-9a-fA-F]{1,4}$/.test(group) ? parseInt(group, 16) : NaN));
    return groups.every((group) => !Number.isNaN(group)) ? groups : null;
  };
  const head = parse(halves[0]);
  const rest = parse(halves[1]);
  if (!head || !rest) return null;
  const known = head.length + rest.length;
  if (halves.length === 1 ? known !== 8 : known > 7) return null;
  return [...head, ...new Array<number>(8 - known).fill(0), ...rest];
}

/** An address in canonical form: `v4` octets, or `v6` groups (IPv4-mapped IPv6 counts as IPv4). */
export type ParsedIp = { readonly family: 4; readonly octets: readonly number[] } | { readonly family: 6; readonly groups: readonly number[] };

export function parseIp(ip: string): ParsedIp | null {
  const v4 = ipv4Octets(ip);
  if (v4) return { family: 4, octets: v4 };
  const v6 = ipv6Groups(ip);
  if (!v6) return null;
  const mapped = v6.slice(0, 5).every((group) => group === 0) && v6[5] === 0xffff;
  if (mapped) return { family: 4, octets: [(v6[6] ?? 0) >> 8, (v6[6] ?? 0) & 0xff, (v6[7] ?? 0) >> 8, (v6[7] ?? 0) & 0xff] };
  return { family: 6, groups: v6 };
}

/**
 * The network of an address: `a.b.c.0/24` for IPv4, `xxxx:xxxx:xxxx:xxxx::/64` for IPv6. Null for
 * something that is not an address (a test client, `system`), which the detectors then skip.
 */
export function networkOf(ip: string): string | null {
  const parsed = parseIp(ip);
  if (!parsed) return null;
  if (parsed.family === 4) return `${parsed.octets.slice(0, 3).join('.')}.0/24`;
  return `${parsed.groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}

const EARTH_RADIUS_KM = 6371;
const radians = (degrees: number): number => (degrees * Math.PI) / 180;

/** Great-circle distance in kilometres (haversine). */
export function distanceKm(a: { latitude: number; longitude: number }, b: { latitude: number; longitude: number }): number {
  const dLat = radians(b.latitude - a.latitude);
  const dLon = radians(b.longitude - a.longitude);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(radians(a.latitude)) * Math.cos(radians(b.latitude)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}
