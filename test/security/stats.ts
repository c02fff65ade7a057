/*
 * Small statistics for the randomness checks (TOK-1, TOK-2). Thresholds are set so that a
 * correct CSPRNG fails a check with probability well below one in a million: the suites must
 * never be flaky, while a counter, a timestamp or Math.random()-style structure still fails them.
 */
import { deflateSync } from 'node:zlib';

/**
 * How many standard deviations a chi-square statistic with `dof` degrees of freedom lies above
 * its mean, via the Wilson–Hilferty cube-root transform (accurate for dof ≥ 3).
 */
export function chiSquareZ(statistic: number, dof: number): number {
  const k = dof;
  return (Math.cbrt(statistic / k) - (1 - 2 / (9 * k))) / Math.sqrt(2 / (9 * k));
}

/** Pearson's chi-square statistic of observed counts against a uniform expectation. */
export function chiSquareUniform(counts: readonly number[]): number {
  const total = counts.reduce((sum, count) => sum + count, 0);
  const expected = total / counts.length;
  return counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
}

/** Byte-value histogram of a buffer. */
export function byteCounts(bytes: Uint8Array): number[] {
  const counts = new Array<number>(256).fill(0);
  for (const byte of bytes) counts[byte] = (counts[byte] ?? 0) + 1;
  return counts;
}

/** Longest common prefix among any two strings of the list (sorting puts the closest pairs next to each other). */
export function longestSharedPrefix(values: readonly string[]): number {
  const sorted = [...values].sort();
  let longest = 0;
  for (let i = 1; i < sorted.length; i += 1) {
    const a = sorted[i - 1] ?? '';
    const b = sorted[i] ?? '';
    let n = 0;
    while (n < a.length && n < b.length && a[n] === b[n]) n += 1;
    longest = Math.max(longest, n);
  }
  return longest;
}

/** Deflate ratio (compressed / raw) at the strongest level: random bytes do not compress (≈ 1.0). */
export const compressionRatio = (bytes: Buffer): number => deflateSync(bytes, { level: 9 }).length / bytes.length;

/** For each bit position of equal-length byte strings, how far the count of ones lies from half, in standard deviations. */
export function worstBitBias(samples: readonly Buffer[]): number {
  const bits = (samples[0]?.length ?? 0) * 8;
  let worst = 0;
  for (let bit = 0; bit < bits; bit += 1) {
    let ones = 0;
    for (const sample of samples) ones += ((sample[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1;
    worst = Math.max(worst, Math.abs(ones - samples.length / 2) / (Math.sqrt(samples.length) / 2));
  }
  return worst;
}

/** Fraction of consecutive samples (in issue order) where the next one sorts after the previous: ≈ 0.5 unless values grow or shrink. */
export function risingFraction(values: readonly string[]): number {
  let rising = 0;
  for (let i = 1; i < values.length; i += 1) if ((values[i] ?? '') > (values[i - 1] ?? '')) rising += 1;
  return rising / (values.length - 1);
}
