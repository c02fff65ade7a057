import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TravelWindow } from '../../src/core/travel/travel.ts';
import { ENGINES, startHarness, type Harness } from '../support/harness.ts';

const window = (id: string, accountId: string, startsAt: string, endsAt: string): TravelWindow => ({
  id,
  accountId,
  countries: ['DE', 'JP'],
  fromDate: startsAt.slice(0, 10),
  toDate: endsAt.slice(0, 10),
  startsAt: new Date(startsAt),
  endsAt: new Date(endsAt),
  createdAt: new Date('2026-11-01T00:00:00Z'),
  cancelledAt: null,
});

describe.each(ENGINES)('travel repository (%s)', (engine) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ engine });
  });
  afterAll(async () => h?.close());

  it('stores trips and reads them back per account and for the index', async () => {
    const { travel } = h.latchkey.store;
    await travel.insert(window('a1', 'acct:a', '2026-12-01T00:00:00Z', '2026-12-10T00:00:00Z'));
    await travel.insert(window('a2', 'acct:a', '2026-11-01T00:00:00Z', '2026-11-05T00:00:00Z'));
    await travel.insert(window('b1', 'acct:b', '2026-12-02T00:00:00Z', '2026-12-03T00:00:00Z'));
    expect(await travel.get('a1')).toEqual(window('a1', 'acct:a', '2026-12-01T00:00:00Z', '2026-12-10T00:00:00Z'));
    expect((await travel.listForAccount('acct:a', new Date('2026-11-20T00:00:00Z'))).map((item) => item.id)).toEqual(['a1']);
    expect((await travel.listForAccount('acct:a', new Date('2026-10-01T00:00:00Z'))).map((item) => item.id)).toEqual(['a2', 'a1']);
    expect((await travel.listInForce(new Date('2026-11-20T00:00:00Z'))).map((item) => item.id).sort()).toEqual(['a1', 'b1']);
  });

  it('cancels a trip once, only for its own account, even when two cancellations race', async () => {
    const { travel } = h.latchkey.store;
    await travel.insert(window('c1', 'acct:c', '2026-12-01T00:00:00Z', '2026-12-10T00:00:00Z'));
    expect(await travel.cancel('c1', 'acct:other', new Date())).toBe(false);
    const results = await Promise.all(Array.from({ length: 8 }, () => travel.cancel('c1', 'acct:c', new Date('2026-11-26T10:00:00Z'))));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await travel.get('c1'))?.cancelledAt).toEqual(new Date('2026-11-26T10:00:00Z'));
    expect((await travel.listInForce(new Date('2026-11-20T00:00:00Z'))).map((item) => item.id)).not.toContain('c1');
  });
});
