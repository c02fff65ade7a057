import type { AuditRecord } from '../../audit/events.ts';
import { evidence, findingFrom, MAX_EVIDENCE, NOTHING, type Detector, type Observation } from './detector.ts';
import type { MonitoringPolicy } from './settings.ts';

const HOUR_MS = 3_600_000;
const HOURS_PER_WEEK = 168;
const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

export type SpikeMetric = 'resets' | 'unlocks' | 'failures';

/** Counts of one metric of one department, by hour since the epoch (UTC), over the baseline span. */
interface Series {
  hours: Record<string, number>;
  /** The hour the evidence ids belong to, and whether that hour already raised a finding. */
  currentHour: number;
  ids: string[];
  alerted: boolean;
}

export interface DepartmentSpikeState {
  /** When the detector saw its first event: hours before it are unknown, not zero. */
  sinceHour: number | null;
  series: Record<string, Series>;
}

function metricOf(record: AuditRecord): SpikeMetric | null {
  if (record.type === 'password.reset' && record.outcome === 'success') return 'resets';
  if (record.type === 'account.unlocked' && record.outcome === 'success') return 'unlocks';
  if (record.outcome === 'failure' && (record.type === 'challenge.failed' || record.type === 'challenge.exhausted' || record.type === 'password.rejected')) return 'failures';
  return null;
}

/**
 * P(X ≥ k) for X ~ Poisson(λ). Summed upwards from k when k is above the mean (where the terms only
 * shrink), so tiny tail probabilities keep their precision instead of vanishing in 1 − CDF.
 */
export function poissonUpperTail(k: number, lambda: number): number {
  if (k <= 0) return 1;
  const logPmf = (n: number): number => -lambda + n * Math.log(lambda) - logFactorial(n);
  if (k <= lambda) {
    let cdf = 0;
    for (let n = 0; n < k; n += 1) cdf += Math.exp(logPmf(n));
    return Math.max(0, 1 - cdf);
  }
  let sum = 0;
  for (let n = k; n < k + 10_000; n += 1) {
    const term = Math.exp(logPmf(n));
    sum += term;
    if (term < sum * 1e-15) break;
  }
  return Math.min(1, sum);
}

const logFactorials: number[] = [0];
function logFactorial(n: number): number {
  for (let i = logFactorials.length; i <= n; i += 1) logFactorials.push((logFactorials[i - 1] ?? 0) + Math.log(i));
  return logFactorials[n] ?? 0;
}

const slotName = (hour: number): string => {
  const date = new Date(hour * HOUR_MS);
  return `${WEEKDAYS[date.getUTCDay()] ?? ''}s ${String(date.getUTCHours()).padStart(2, '0')}:00 UTC`;
};

/**
 * `department_spike`: resets, unlocks or failures of one department in the current hour, judged
 * against the same hour of the same weekday over the last `baselineWeeks` weeks. The test is the
 * Poisson upper tail: with λ the mean of those weekly samples (floored at `minMeanPerHour`), raise
 * when P(X ≥ observed) < `pValue` and at least `minCount` events were seen. A Monday 09:00 that
 * always brings about 40 needs about 61 to be unusual; a department that sees one a month raises at
 * ten. Poisson rather than a z-score because counts this small have no stable variance to divide by.
 *
 * Audit events carry the department but not the account's groups, so this detector works per
 * department only. Hours are UTC hours, so a daylight-saving change shifts a local slot by one hour
 * for the weeks on either side of it. Until a week of history exists there is no baseline and
 * nothing is raised.
 */
export function departmentSpike(settings: MonitoringPolicy['department_spike']): Detector<DepartmentSpikeState> {
  return {
    id: 'department_spike',
    initialState: () => ({ sinceHour: null, series: {} }),
    observe(state, record): Observation {
      const hour = Math.floor(record.at.getTime() / HOUR_MS);
      state.sinceHour ??= hour;
      const metric = metricOf(record);
      if (metric === null || record.department === null) return NOTHING;
      const key = JSON.stringify([record.department, metric]);
      const series = (state.series[key] ??= { hours: {}, currentHour: hour, ids: [], alerted: false });
      if (series.currentHour !== hour) {
        Object.assign(series, { currentHour: hour, ids: [], alerted: false });
        const oldest = hour - HOURS_PER_WEEK * settings.baselineWeeks;
        for (const stored of Object.keys(series.hours)) if (Number(stored) < oldest) delete series.hours[stored];
      }
      const count = (series.hours[hour] ?? 0) + 1;
      series.hours[hour] = count;
      series.ids.push(record.id);
      if (series.ids.length > MAX_EVIDENCE) series.ids.shift();

      const weeks = Math.min(settings.baselineWeeks, Math.floor((hour - state.sinceHour) / HOURS_PER_WEEK));
      if (weeks < 1 || count < settings.minCount || series.alerted) return NOTHING;
      const samples = Array.from({ length: weeks }, (_, index) => series.hours[hour - HOURS_PER_WEEK * (index + 1)] ?? 0);
      const mean = samples.reduce((sum, value) => sum + value, 0) / weeks;
      const lambda = Math.max(mean, settings.minMeanPerHour);
      const p = poissonUpperTail(count, lambda);
      if (p >= settings.pValue) return NOTHING;
      series.alerted = true;
      const slot = slotName(hour);
      return {
        findings: [
          findingFrom(record, 'department_spike', count >= lambda * 10 ? 'high' : 'medium', {
            dedupeKey: `department_spike:${record.department}:${metric}:${hour}`,
            summary: `${count} ${metric} in ${record.department} this hour, against a usual ${mean.toFixed(1)} on ${slot}`,
            observed: { department: record.department, metric, count, hour_start: new Date(hour * HOUR_MS).toISOString(), baseline_mean: Number(mean.toFixed(3)), p_value: Number(p.toPrecision(3)) },
            baseline: `mean ${mean.toFixed(2)}/h on ${slot} over ${weeks} week${weeks === 1 ? '' : 's'} (samples ${samples.join(', ')}); Poisson P(X ≥ ${count} | λ=${lambda.toFixed(2)}) = ${p.toPrecision(3)} < ${settings.pValue}`,
            eventIds: evidence(series.ids),
            subject: null,
            ip: null,
          }),
        ],
        flags: [],
      };
    },
  };
}
