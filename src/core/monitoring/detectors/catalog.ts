import type { Detector } from './detector.ts';
import { departmentSpike } from './department-spike.ts';
import { impossibleTravel } from './impossible-travel.ts';
import { newCountry } from './new-country.ts';
import { recentMethodChange } from './recent-method-change.ts';
import { repeatedFailures } from './repeated-failures.ts';
import { resetSpray } from './reset-spray.ts';
import type { MonitoringPolicy } from './settings.ts';
import { breakGlassTouch, privilegedRecovery } from './tier-touch.ts';
import { honeytokenTouch, privilegedHold } from './governance-touch.ts';
import { unusualNetwork } from './unusual-network.ts';

/** Detectors that need a GeoIP database to judge anything. */
export const GEOIP_DETECTORS = ['new_country', 'impossible_travel'] as const;

/** The enabled detectors of a policy, in catalog order (the order their findings are raised in). */
export function detectorsFor(policy: MonitoringPolicy): Detector[] {
  const all: [boolean, () => Detector][] = [
    [policy.repeated_failures.enabled, () => repeatedFailures(policy.repeated_failures)],
    [policy.reset_spray.enabled, () => resetSpray(policy.reset_spray)],
    [policy.department_spike.enabled, () => departmentSpike(policy.department_spike)],
    [policy.new_country.enabled, () => newCountry(policy.new_country)],
    [policy.impossible_travel.enabled, () => impossibleTravel(policy.impossible_travel)],
    [policy.unusual_network.enabled, () => unusualNetwork(policy.unusual_network)],
    [policy.recent_method_change.enabled, () => recentMethodChange(policy.recent_method_change)],
    [policy.privileged_recovery.enabled, () => privilegedRecovery()],
    [policy.break_glass_touch.enabled, () => breakGlassTouch()],
    // Not switchable: a held recovery nobody is asked to confirm, or an unwatched honeytoken, is no control at all.
    [true, () => privilegedHold()],
    [true, () => honeytokenTouch()],
  ];
  return all.filter(([enabled]) => enabled).map(([, build]) => build());
}
