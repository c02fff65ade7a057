import { z } from 'zod';
import { METHOD_IDS } from '../../methods/method-ids.ts';

/*
 * The `monitoring` section of the policy document: one entry per detector, each with `enabled` and
 * its thresholds. Durations are seconds. `refuseAtStart` makes a detector inform the flow in real
 * time: a start from an address it currently flags becomes a decoy (the reply does not change).
 */

const countWindow = z
  .object({
    count: z.int().min(2).max(100_000).describe('How many events within the window raise a finding.'),
    windowSeconds: z.int().min(60).max(604_800).describe('Length of the sliding window in seconds.'),
  })
  .strict();

const accountsWindow = z
  .object({
    accounts: z.int().min(2).max(100_000).describe('Distinct accounts (or unknown identifiers) within the window that raise a finding.'),
    windowSeconds: z.int().min(60).max(604_800).describe('Length of the sliding window in seconds.'),
  })
  .strict();

export const monitoringPolicySchema = z
  .object({
    repeated_failures: z
      .object({
        enabled: z.boolean(),
        perAccount: countWindow.describe('Failed gates and refused passwords per account.'),
        perIp: countWindow.describe('Failed gates and refused passwords per client address.'),
        refuseAtStart: z.boolean().describe('Starts from an address flagged per IP become decoys while it stays flagged.'),
      })
      .strict(),
    reset_spray: z
      .object({
        enabled: z.boolean(),
        perIp: accountsWindow.describe('Distinct accounts one address starts flows for.'),
        perNetwork: accountsWindow.describe('Distinct accounts one network (IPv4 /24, IPv6 /64) starts flows for.'),
        refuseAtStart: z.boolean().describe('Starts from a flagged address or network become decoys while it stays flagged.'),
      })
      .strict(),
    department_spike: z
      .object({
        enabled: z.boolean(),
        baselineWeeks: z.int().min(1).max(12).describe('How many past weeks of the same hour and weekday form the baseline.'),
        minCount: z.int().min(1).max(10_000).describe('Fewer events in the hour than this never raise a finding.'),
        pValue: z
          .number()
          .gt(0)
          .max(0.05)
          .describe('Raise when the chance of seeing at least this many events, were the baseline mean the truth (Poisson upper tail), is below this.'),
        minMeanPerHour: z
          .number()
          .gt(0)
          .max(100)
          .describe('Floor for the baseline mean, so an hour that was always empty does not make a single event a spike.'),
      })
      .strict(),
    new_country: z
      .object({
        enabled: z.boolean().describe('Needs detectors.geoipDatabase in the server configuration.'),
        maxCountriesPerAccount: z.int().min(1).max(100).describe('Countries remembered per account (the oldest is forgotten first).'),
      })
      .strict(),
    impossible_travel: z
      .object({
        enabled: z.boolean().describe('Needs detectors.geoipDatabase in the server configuration.'),
        maxSpeedKmh: z.int().min(100).max(20_000).describe('Travel faster than this between two successful events of one account raises a finding.'),
        minDistanceKm: z.int().min(0).max(20_000).describe('Shorter hops are ignored: GeoIP places addresses only roughly.'),
        honourTravelWindows: z.boolean().describe('Skip trips inside a declared travel window (once the lifecycle feature provides them).'),
      })
      .strict(),
    unusual_network: z
      .object({
        enabled: z.boolean(),
        maxNetworksPerAccount: z.int().min(1).max(100).describe('Networks (and ASNs) remembered per account (the oldest is forgotten first).'),
        refuseDenyListed: z.boolean().describe('Starts from an address on an operator deny list become decoys.'),
      })
      .strict(),
    recent_method_change: z
      .object({
        enabled: z.boolean(),
        windowSeconds: z.int().min(60).max(2_592_000).describe('A recovery within this long after a method was added or removed raises a finding.'),
        methods: z.array(z.enum(METHOD_IDS)).min(1).describe('Which methods count (a phone number change is sms_code).'),
      })
      .strict(),
    privileged_recovery: z
      .object({ enabled: z.literal(true, { message: 'privileged recoveries are always raised' }) })
      .strict(),
    break_glass_touch: z
      .object({ enabled: z.literal(true, { message: 'any touch of a break-glass account is always raised' }) })
      .strict(),
  })
  .strict();

export type MonitoringPolicy = z.infer<typeof monitoringPolicySchema>;
