import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/adapters/system/clock.ts';
import { createSystemRandom } from '../../src/adapters/system/random.ts';

describe('createSystemRandom', () => {
  const random = createSystemRandom();

  it('returns fresh bytes of the asked length', () => {
    expect(random.bytes(32)).toHaveLength(32);
    expect(random.bytes(0)).toHaveLength(0);
    expect(random.bytes(16).equals(random.bytes(16))).toBe(false);
  });

  it('draws integers in [0, max) covering the whole range', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 2_000; i += 1) {
      const value = random.int(10);
      expect(Number.isInteger(value) && value >= 0 && value < 10).toBe(true);
      seen.add(value);
    }
    expect(seen.size).toBe(10);
    expect(random.int(1)).toBe(0);
  });

  it('refuses nonsensical bounds', () => {
    expect(() => random.int(0)).toThrow(RangeError);
    expect(() => random.int(1.5)).toThrow(RangeError);
    expect(() => random.bytes(-1)).toThrow(RangeError);
  });

  it('makes v4 UUIDs', () => {
    expect(random.uuid()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('systemClock', () => {
  it('reads the wall clock', () => {
    const before = Date.now();
    const now = systemClock.now().getTime();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });
});
