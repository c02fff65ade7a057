import { performance } from 'node:perf_hooks';
import { JsonClient, stringField } from './http.ts';
import { seededRandom } from './stats.ts';

/*
 * Does the start of a reset take the same time whatever the identifier names? One keep-alive
 * connection, one request at a time, the classes interleaved in a fresh random order every round
 * (block randomisation), so drift, GC and cache effects fall on every class alike.
 */

export interface TimingClass {
  readonly name: string;
  /** Identifiers to cycle through (usernames and work emails alike). */
  readonly identifiers: readonly string[];
}

export interface TimingResult {
  readonly rounds: number;
  readonly warmupRounds: number;
  /** Latency samples (ms) per class name, in the order they were taken. */
  readonly samples: Record<string, number[]>;
  readonly failures: number;
}

export async function measureStartTiming(port: number, classes: readonly TimingClass[], options: { rounds: number; warmupRounds: number; seed: number }): Promise<TimingResult> {
  const client = new JsonClient(port, 1);
  const random = seededRandom(options.seed);
  const samples: Record<string, number[]> = Object.fromEntries(classes.map((timingClass) => [timingClass.name, [] as number[]]));
  let failures = 0;
  const order = classes.map((_, index) => index);
  for (let round = 0; round < options.warmupRounds + options.rounds; round += 1) {
    // Fisher–Yates with the seeded generator: a new order each round.
    for (let i = order.length - 1; i > 0; i -= 1) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    for (const index of order) {
      const timingClass = classes[index] as TimingClass;
      const identifier = timingClass.identifiers[round % timingClass.identifiers.length] as string;
      const sentAt = performance.now();
      const response = await client.post('/api/recovery/flows', { identifier, purpose: 'reset' });
      const elapsed = performance.now() - sentAt;
      if (response.status !== 201 || !stringField(response.body, 'flowToken')) failures += 1;
      else if (round >= options.warmupRounds) samples[timingClass.name]?.push(elapsed);
    }
  }
  client.close();
  return { rounds: options.rounds, warmupRounds: options.warmupRounds, samples, failures };
}
