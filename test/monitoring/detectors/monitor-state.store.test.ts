import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, roomyLimits, startHarness, type Harness } from '../../support/harness.ts';
import type { PendingFinding } from '../../../src/core/ports/store.ts';

/* The detector runner's repository, on every engine: compare-and-set commits and leased hand-off. */

const pending = (seq: number, n = 0): PendingFinding => ({ id: `${seq}:repeated_failures:${n}`, seq, finding: JSON.stringify({ seq, n }), createdAt: new Date(1_000) });

describe.each(ENGINES)('MonitorStateRepository on %s', (engine) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ engine, policy: [roomyLimits] });
  });
  afterAll(async () => h.close());

  it('starts at version 0, cursor 0, no state; commits only from the version it names, all or nothing', async () => {
    const repo = h.latchkey.store.monitorState;
    expect(await repo.load()).toEqual({ version: 0, cursor: 0, states: {} });
    expect(await repo.commit(0, 10, { a: '{"n":1}', b: '[]' }, [pending(7), pending(3)], new Date(2_000))).toBe(true);
    // A runner that read version 0 lost the race: nothing of its commit lands.
    expect(await repo.commit(0, 99, { a: '{"n":666}' }, [pending(50)], new Date(3_000))).toBe(false);
    expect(await repo.load()).toEqual({ version: 1, cursor: 10, states: { a: '{"n":1}', b: '[]' } });
    expect(await repo.commit(1, 12, { a: '{"n":2}' }, [], new Date(4_000))).toBe(true);
    expect(await repo.load()).toEqual({ version: 2, cursor: 12, states: { a: '{"n":2}', b: '[]' } });
    expect(await repo.version()).toBe(2);
    expect(await repo.countPending()).toBe(2);
  });

  it('leases pending findings lowest seq first, to one claimant at a time, until the lease runs out', async () => {
    const repo = h.latchkey.store.monitorState;
    const now = new Date(10_000);
    const lease = new Date(70_000);
    const [first, second] = await Promise.all([repo.claimPending(now, lease, 10), repo.claimPending(now, lease, 10)]);
    const claimed = [...(first ?? []), ...(second ?? [])];
    expect(claimed.map((item) => item.seq).sort((a, b) => a - b)).toEqual([3, 7]);
    expect(await repo.claimPending(new Date(69_999), lease, 10)).toEqual([]);
    const retaken = await repo.claimPending(new Date(70_000), new Date(130_000), 10);
    expect(retaken.map((item) => [item.id, item.seq, item.finding])).toEqual([
      ['3:repeated_failures:0', 3, '{"seq":3,"n":0}'],
      ['7:repeated_failures:0', 7, '{"seq":7,"n":0}'],
    ]);
    await repo.removePending('3:repeated_failures:0');
    expect(await repo.countPending()).toBe(1);
  });
});
