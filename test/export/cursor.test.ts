import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/harness.ts';
import { openTestStore, type TestStore } from './support.ts';

const T0 = Date.UTC(2030, 0, 1, 9, 0, 0, 123);
const at = (offsetMs = 0): Date => new Date(T0 + offsetMs);
const LEASE = 30_000;

describe.each(ENGINES)('audit export cursors on %s', (engine) => {
  let db: TestStore;
  beforeEach(async () => {
    db = await openTestStore(engine);
  });
  afterEach(async () => {
    await db.close();
  });

  it('minimumDelivered is the smallest delivered seq over the named sinks, 0 for a sink that never delivered', async () => {
    const cursors = db.store.auditExport;
    expect(await cursors.minimumDelivered([])).toBe(0);
    expect(await cursors.minimumDelivered(['never-ran'])).toBe(0);
    await cursors.acquire('a', 'me', at(), at(LEASE));
    await cursors.acquire('b', 'me', at(), at(LEASE));
    expect(await cursors.advance('a', 'me', 0, 40, at(1))).toBe(true);
    expect(await cursors.advance('b', 'me', 0, 25, at(1))).toBe(true);
    expect(await cursors.minimumDelivered(['a', 'b'])).toBe(25);
    expect(await cursors.minimumDelivered(['a'])).toBe(40);
    expect(await cursors.minimumDelivered(['a', 'a'])).toBe(40);
    expect(await cursors.minimumDelivered(['a', 'b', 'never-ran'])).toBe(0);
  });

  it('holds a sink for one owner at a time, hands it over when the lease runs out or is released', async () => {
    const cursors = db.store.auditExport;
    const first = await cursors.acquire('siem', 'one', at(), at(LEASE));
    expect(first).toMatchObject({ sink: 'siem', deliveredSeq: 0, status: 'active', leaseOwner: 'one' });
    expect(await cursors.acquire('siem', 'two', at(1_000), at(1_000 + LEASE))).toBeNull();
    expect(await cursors.acquire('siem', 'one', at(2_000), at(2_000 + LEASE))).toMatchObject({ leaseOwner: 'one', leaseUntil: at(2_000 + LEASE) });
    expect(await cursors.acquire('siem', 'two', at(2_000 + LEASE), at(2_000 + 2 * LEASE))).toMatchObject({ leaseOwner: 'two' });
    await cursors.release('siem', 'one');
    expect((await cursors.get('siem'))?.leaseOwner).toBe('two');
    await cursors.release('siem', 'two');
    expect(await cursors.acquire('siem', 'three', at(2_000 + LEASE), at(2_000 + 2 * LEASE))).toMatchObject({ leaseOwner: 'three' });
  });

  it('of many concurrent takers of a free sink exactly one gets the lease', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, index) => db.store.auditExport.acquire('race', `owner-${index}`, at(), at(LEASE))));
    const winners = results.filter((cursor) => cursor !== null);
    expect(winners).toHaveLength(1);
    expect((await db.store.auditExport.get('race'))?.leaseOwner).toBe(winners[0]?.leaseOwner);
  });

  it('advances only for the lease holder, only from the value it read, and never backwards', async () => {
    const cursors = db.store.auditExport;
    await cursors.acquire('siem', 'one', at(), at(LEASE));
    expect(await cursors.advance('siem', 'two', 0, 10, at(1))).toBe(false);
    expect(await cursors.advance('siem', 'one', 5, 10, at(1))).toBe(false);
    expect(await cursors.advance('siem', 'one', 0, 10, at(1))).toBe(true);
    expect(await cursors.advance('siem', 'one', 0, 20, at(2))).toBe(false);
    await expect(cursors.advance('siem', 'one', 10, 9, at(3))).rejects.toThrow(RangeError);
    expect(await cursors.get('siem')).toMatchObject({ deliveredSeq: 10, updatedAt: at(1) });
  });

  it('reports a status change once, however often it is set', async () => {
    const cursors = db.store.auditExport;
    await cursors.acquire('siem', 'one', at(), at(LEASE));
    expect(await cursors.setStatus('siem', 'stalled', 'connection refused', at(1))).toBe(true);
    expect(await cursors.setStatus('siem', 'stalled', 'connection refused', at(2))).toBe(false);
    expect(await cursors.get('siem')).toMatchObject({ status: 'stalled', lastError: 'connection refused' });
    expect(await cursors.setStatus('siem', 'active', null, at(3))).toBe(true);
    expect(await cursors.list()).toEqual([expect.objectContaining({ sink: 'siem', status: 'active', lastError: null })]);
  });
});
