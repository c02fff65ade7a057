import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { createArgon2Hasher, createLimiter, defaultMaxConcurrent } from '../../src/adapters/system/argon2-hasher.ts';

describe('createArgon2Hasher (PWD-8)', () => {
  const hasher = createArgon2Hasher();

  it('hashes with argon2id v19, m=19456, t=2, p=1 and a random salt', async () => {
    const a = await hasher.hash('correct horse battery staple');
    const b = await hasher.hash('correct horse battery staple');
    expect(a.startsWith('$argon2id$v=19$m=19456,t=2,p=1$')).toBe(true);
    expect(a).not.toBe(b);
    expect(hasher.needsRehash(a)).toBe(false);
  });

  it('verifies the right password only', async () => {
    const hash = await hasher.hash('correct horse battery staple');
    expect(await hasher.verify(hash, 'correct horse battery staple')).toBe(true);
    expect(await hasher.verify(hash, 'correct horse battery stapler')).toBe(false);
    expect(await hasher.verify(hash, 'Correct horse battery staple')).toBe(false);
    expect(await hasher.verify(hash, '')).toBe(false);
  });

  it('uses the whole of a 200-character password: changing the last character fails', async () => {
    const long = `${'x'.repeat(150)}${'0123456789'.repeat(5)}`;
    expect(long).toHaveLength(200);
    const hash = await hasher.hash(long);
    expect(await hasher.verify(hash, long)).toBe(true);
    expect(await hasher.verify(hash, `${long.slice(0, -1)}!`)).toBe(false);
    expect(await hasher.verify(hash, long.slice(0, 199))).toBe(false);
    expect(await hasher.verify(hash, long.slice(0, 72))).toBe(false);
  });

  it('answers false, never throws, for malformed or hostile hashes', async () => {
    const good = await hasher.hash('pw');
    const hostile = [
      '',
      'not-a-hash',
      '$argon2id$',
      '$argon2id$v=19$m=19456,t=2,p=1$bad',
      good.slice(0, -10),
      good.replace('argon2id', 'argon2i'),
      '$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$dcXYl2zrXQ9AXuZbsHsg3zVDWD1/3t+U8iuu0jD/kdk',
      '$2b$10$abcdefghijklmnopqrstuv1234567890123456789012345678901',
    ];
    for (const hash of hostile) expect(await hasher.verify(hash, 'pw'), hash).toBe(false);
    expect(hasher.needsRehash('not-a-hash')).toBe(true);
  });

  it('flags hashes made with other parameters for rehashing', async () => {
    const cheap = createArgon2Hasher({ memoryCost: 1024, timeCost: 1 });
    const hash = await cheap.hash('pw');
    expect(hash.startsWith('$argon2id$v=19$m=1024,t=1,p=1$')).toBe(true);
    expect(hasher.needsRehash(hash)).toBe(true);
    expect(await hasher.verify(hash, 'pw')).toBe(true);
  });

  it('leaves one core to the event loop by default: at most cores − 1 at once, never fewer than 1', () => {
    expect(defaultMaxConcurrent()).toBe(Math.max(1, availableParallelism() - 1));
  });

  it('caps concurrent hashes at maxConcurrent and queues the rest', async () => {
    const hasher = createArgon2Hasher({ maxConcurrent: 2 });
    let maxActive = 0;
    let maxQueued = 0;
    const watch = setInterval(() => {
      const load = hasher.load();
      maxActive = Math.max(maxActive, load.active);
      maxQueued = Math.max(maxQueued, load.queued);
    }, 1);
    const work = Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? hasher.hash(`pw${i}`) : hasher.verify('$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$dcXYl2zrXQ9AXuZbsHsg3zVDWD1/3t+U8iuu0jD/kdk', 'x')));
    const initial = hasher.load();
    await Promise.all(work);
    clearInterval(watch);
    expect(initial).toEqual({ active: 2, queued: 6 });
    expect(maxActive).toBeLessThanOrEqual(2);
    expect(maxQueued).toBeGreaterThan(0);
    expect(hasher.load()).toEqual({ active: 0, queued: 0 });
  });

  it('refuses nonsensical parameters', () => {
    expect(() => createArgon2Hasher({ maxConcurrent: 0 })).toThrow(RangeError);
    expect(() => createArgon2Hasher({ memoryCost: -1 })).toThrow(RangeError);
  });
});

describe('createLimiter', () => {
  it('never runs more than max tasks and serves waiters first in, first out', async () => {
    const limiter = createLimiter(2);
    let active = 0;
    let peak = 0;
    const started: number[] = [];
    const gates: (() => void)[] = [];
    const tasks = Array.from({ length: 6 }, (_, i) =>
      limiter.run(async () => {
        started.push(i);
        active += 1;
        peak = Math.max(peak, active);
        await new Promise<void>((resolve) => gates.push(resolve));
        active -= 1;
        return i;
      }),
    );
    const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));
    await settle();
    expect(started).toEqual([0, 1]);
    expect(limiter.load()).toEqual({ active: 2, queued: 4 });
    // Release in reverse order; the queue still starts 2, 3, 4, 5 in order.
    gates[1]?.();
    await settle();
    gates[0]?.();
    await settle();
    expect(started).toEqual([0, 1, 2, 3]);
    for (let next = 2; next < 6; next += 1) {
      gates[next]?.();
      await settle();
    }
    expect(await Promise.all(tasks)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(peak).toBe(2);
    expect(limiter.load()).toEqual({ active: 0, queued: 0 });
  });

  it('frees the slot when a task throws', async () => {
    const limiter = createLimiter(1);
    await expect(limiter.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limiter.run(() => Promise.resolve(7))).toBe(7);
    expect(limiter.load()).toEqual({ active: 0, queued: 0 });
  });
});
