import { describe, expect, it } from 'vitest';
import { translator } from '../../src/server/pages/i18n/catalog.ts';
import { methodsPage, type MethodsPageData } from '../../src/server/pages/me/views.ts';
import type { PageContext } from '../../src/server/pages/views.ts';

/*
 * The "counts from" line of a method in its cooling-off is judged by the server's clock (the one the
 * engine enforces the cooling-off with), never by the machine's wall clock.
 */

const ctx: PageContext = { t: translator('en'), language: 'en', csrf: 'csrf-token', path: '/me', organisation: 'Example Corp', hasLogo: false, helpdesk: {} };

const page = (now: Date, usableFrom: string): string => {
  const data: MethodsPageData = {
    methods: [{ id: '6f1c2a4e-0000-4000-8000-000000000001', method: 'email_code', status: 'active', label: 'a•••@example.org', createdAt: '2030-01-01T08:00:00.000Z', verifiedAt: '2030-01-01T08:00:00.000Z', lastUsedAt: null, remainingCodes: null, usableFrom, reconfirmation: null }],
    required: 1,
    missing: 0,
    allowed: ['email_code'],
    questions: null,
    due: [],
    now,
  };
  return methodsPage(ctx, data, { items: [], stuck: false }, null);
};

describe('the cooling-off line on /me', () => {
  const usableFrom = '2030-01-02T08:00:00.000Z';
  const countsFrom = translator('en')('me.usable_from', { date: '' }).trim().split(' ')[0] ?? 'Counts';

  it('shows when the method starts to count while the server clock is before that time', () => {
    expect(page(new Date('2030-01-01T09:00:00.000Z'), usableFrom)).toContain(countsFrom);
  });

  it('drops the line once the server clock has passed it, whatever the wall clock says', () => {
    // 2030 is in the future of any machine running this test: a wall-clock comparison would still show the line.
    expect(page(new Date('2030-01-02T08:00:01.000Z'), usableFrom)).not.toContain(countsFrom);
  });
});
