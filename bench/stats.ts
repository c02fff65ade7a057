/*
 * Small statistics for the bench: percentiles and the two-sample Kolmogorov–Smirnov test, with a
 * self-check the run executes before it trusts the numbers.
 */

const sortedCopy = (values: readonly number[]): Float64Array => Float64Array.from(values).sort();

/** Linear-interpolation percentile (R type 7) of a sample; `p` in [0, 100]. NaN for an empty sample. */
export function percentile(values: readonly number[], p: number): number {
  return percentileOfSorted(sortedCopy(values), p);
}

function percentileOfSorted(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.min(sorted.length - 1, low + 1);
  const lowValue = sorted[low] ?? Number.NaN;
  const highValue = sorted[high] ?? Number.NaN;
  return lowValue + (highValue - lowValue) * (rank - low);
}

export interface Summary {
  readonly n: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export function summarise(values: readonly number[]): Summary {
  const sorted = sortedCopy(values);
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    n: sorted.length,
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
    p50: percentileOfSorted(sorted, 50),
    p90: percentileOfSorted(sorted, 90),
    p95: percentileOfSorted(sorted, 95),
    p99: percentileOfSorted(sorted, 99),
    max: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] ?? Number.NaN),
  };
}

/**
 * The Kolmogorov distribution's survival function Q(λ) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²λ²}
 * (the probability that the scaled supremum exceeds λ under the null).
 */
export function kolmogorovQ(lambda: number): number {
  if (lambda < 0.2) return 1; // the series converges slowly here and the value is 1 to 1e-10
  let sum = 0;
  for (let k = 1; k <= 100; k += 1) {
    const term = Math.exp(-2 * k * k * lambda * lambda);
    sum += k % 2 === 1 ? term : -term;
    if (term < 1e-16) break;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

export interface KsResult {
  /** sup |F1(x) − F2(x)| over the pooled sample. */
  readonly d: number;
  /** Asymptotic p-value with Stephens' small-sample correction (Numerical Recipes §14.3). */
  readonly pValue: number;
  /** The D above which the samples differ at α = 0.05 (asymptotic): 1.358·√((n+m)/(n·m)). */
  readonly dCritical05: number;
  readonly n: number;
  readonly m: number;
}

/** Two-sample Kolmogorov–Smirnov test; ties are handled by stepping both samples past equal values. */
export function ksTwoSample(first: readonly number[], second: readonly number[]): KsResult {
  const a = sortedCopy(first);
  const b = sortedCopy(second);
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) throw new RangeError('ksTwoSample needs two non-empty samples');
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n && j < m) {
    const x = Math.min(a[i] ?? Infinity, b[j] ?? Infinity);
    while (i < n && (a[i] ?? Infinity) <= x) i += 1;
    while (j < m && (b[j] ?? Infinity) <= x) j += 1;
    d = Math.max(d, Math.abs(i / n - j / m));
  }
  const effective = Math.sqrt((n * m) / (n + m));
  return { d, pValue: kolmogorovQ((effective + 0.12 + 0.11 / effective) * d), dCritical05: 1.358 / effective, n, m };
}

/** A deterministic PRNG (mulberry32) for the self-check and the interleaving order. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Log-normal draws (Box–Muller), latency-shaped: median `median`, shape `sigma`. */
function logNormalSample(random: () => number, count: number, median: number, sigma: number): number[] {
  const out: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const u = Math.max(random(), 1e-12);
    const v = random();
    out.push(median * Math.exp(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)));
  }
  return out;
}

export interface SelfCheck {
  readonly ok: boolean;
  readonly checks: readonly { readonly name: string; readonly ok: boolean; readonly detail: string }[];
}

/** Checks KS and percentile against known answers; the run refuses to report timing if it fails. */
export function statsSelfCheck(): SelfCheck {
  const random = seededRandom(20_260_101);
  const same1 = logNormalSample(random, 1500, 1.0, 0.3);
  const same2 = logNormalSample(random, 1500, 1.0, 0.3);
  const shifted = logNormalSample(random, 1500, 1.1, 0.3);
  const sameResult = ksTwoSample(same1, same2);
  const shiftedResult = ksTwoSample(same1, shifted);
  const checks = [
    { name: 'percentile([1..5], 50) = 3, p90 = 4.6', ok: percentile([5, 1, 4, 2, 3], 50) === 3 && Math.abs(percentile([1, 2, 3, 4, 5], 90) - 4.6) < 1e-12, detail: '' },
    { name: 'D(disjoint samples) = 1', ok: ksTwoSample([1, 2, 3], [4, 5, 6]).d === 1, detail: `D=${ksTwoSample([1, 2, 3], [4, 5, 6]).d}` },
    { name: 'D(identical samples with ties) = 0', ok: ksTwoSample([1, 2, 2, 3], [3, 2, 1, 2]).d === 0, detail: '' },
    { name: 'D([1,2,3,4], [3,4,5,6]) = 0.5', ok: ksTwoSample([1, 2, 3, 4], [3, 4, 5, 6]).d === 0.5, detail: '' },
    { name: 'Q(1.36) ≈ 0.049, Q(1.63) ≈ 0.010', ok: Math.abs(kolmogorovQ(1.36) - 0.0494) < 0.001 && Math.abs(kolmogorovQ(1.63) - 0.0098) < 0.0005, detail: `${kolmogorovQ(1.36).toFixed(4)}, ${kolmogorovQ(1.63).toFixed(4)}` },
    {
      name: 'same distribution (2×1500 log-normal): D below the 5% critical value',
      ok: sameResult.d < sameResult.dCritical05 && sameResult.pValue > 0.05,
      detail: `D=${sameResult.d.toFixed(4)} p=${sameResult.pValue.toFixed(3)} Dcrit=${sameResult.dCritical05.toFixed(4)}`,
    },
    {
      name: 'median shifted by 10%: D far above it, p < 1e-6',
      ok: shiftedResult.d > 2 * shiftedResult.dCritical05 && shiftedResult.pValue < 1e-6,
      detail: `D=${shiftedResult.d.toFixed(4)} p=${shiftedResult.pValue.toExponential(2)}`,
    },
  ];
  return { ok: checks.every((check) => check.ok), checks };
}
