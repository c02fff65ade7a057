import type { Finding } from '../finding.ts';
import { findingFrom, isOwnerProof, isRecoveryStart, NOTHING, remember, type Detector, type Observation } from './detector.ts';
import { networkOf } from './network.ts';
import type { MonitoringPolicy } from './settings.ts';

const HOUR_MS = 3_600_000;

export interface UnusualNetworkState {
  /** Networks (`net:192.0.2.0/24`) and ASNs (`asn:64500`) each account succeeded from, most recent last. */
  seen: Record<string, string[]>;
  /** When each deny-listed address last raised a finding, so a busy one raises once an hour, not per start. */
  deniedAtMs: Record<string, number>;
}

/**
 * `unusual_network`: a reset or unlock started for an account from a network it never succeeded
 * from — the /24 (IPv4) or /64 (IPv6) is new and, when the GeoIP database knows autonomous systems,
 * so is the ASN (a new address at the person's usual provider is not unusual). Also: any start from
 * an address on an operator deny list (Tor exit nodes and the like), known identifier or not.
 * History is learned from completed sign-ins and recoveries only, as for new_country.
 */
export function unusualNetwork(settings: MonitoringPolicy['unusual_network']): Detector<UnusualNetworkState> {
  return {
    id: 'unusual_network',
    initialState: () => ({ seen: {}, deniedAtMs: {} }),
    observe(state, record, context): Observation {
      if (record.ip === null) return NOTHING;
      const network = networkOf(record.ip);
      const asn = context.geo?.lookup(record.ip)?.asn ?? null;
      if (isOwnerProof(record) && record.subject !== null) {
        const seen = (state.seen[record.subject] ??= []);
        if (network) remember(seen, `net:${network}`, settings.maxNetworksPerAccount);
        if (asn !== null) remember(seen, `asn:${asn}`, settings.maxNetworksPerAccount);
        return NOTHING;
      }
      if (!isRecoveryStart(record)) return NOTHING;
      const findings: Finding[] = [];
      const listed = context.denyList?.match(record.ip) ?? null;
      const at = record.at.getTime();
      if (listed && at - (state.deniedAtMs[record.ip] ?? -Infinity) >= HOUR_MS) {
        state.deniedAtMs[record.ip] = at;
        for (const [ip, when] of Object.entries(state.deniedAtMs)) if (at - when >= HOUR_MS) delete state.deniedAtMs[ip];
        findings.push(
          findingFrom(record, 'unusual_network', 'high', {
            dedupeKey: `unusual_network:deny:${record.ip}`,
            summary: `A recovery was started from an address on the deny list ${listed.list} (${listed.entry})`,
            observed: { deny_list: listed.list, entry: listed.entry, network, asn },
            baseline: 'operator deny list',
            eventIds: [record.id],
          }),
        );
      }
      const seen = record.subject === null ? [] : (state.seen[record.subject] ?? []);
      const familiar = (network !== null && seen.includes(`net:${network}`)) || (asn !== null && seen.includes(`asn:${asn}`));
      if (record.subject !== null && network !== null && seen.length > 0 && !familiar) {
        findings.push(
          findingFrom(record, 'unusual_network', 'low', {
            dedupeKey: `unusual_network:${record.subject}:${network}`,
            summary: `A ${String(record.data['purpose'])} was started for an account from a network${asn !== null ? ` and provider (AS${asn})` : ''} it never succeeded from before`,
            observed: { network, asn, known_networks: seen.filter((item) => item.startsWith('net:')).length, known_asns: seen.filter((item) => item.startsWith('asn:')).length },
            baseline: `networks and providers this account succeeded from before: ${seen.map((item) => item.slice(4)).join(', ')}`,
            eventIds: [record.id],
          }),
        );
      }
      return { findings, flags: [] };
    },
  };
}
