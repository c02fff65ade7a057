import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, call, createPerson, enrolEmailAndTotp, json, latestCode, startHarness, type Enrolled, type Harness, type Person } from '../support/harness.ts';
import { messagesSince, outboxIds, signInWithGate } from './support.ts';

/*
 * FAC-7 (the parts in this release): adding or removing a recovery method needs a fresh sign-in,
 * and every existing channel of record is told, the removed one included, with no secret in the
 * notice. (A cooling-off period before a new method counts for recovery is not in this release.)
 */

describe.each(ENGINES)('changes to recovery methods on %s', (engine) => {
  let h: Harness;
  let mia: Person;
  let enrolled: Enrolled;

  beforeAll(async () => {
    h = await startHarness({ engine });
    mia = await createPerson(h, 'mia');
    enrolled = await enrolEmailAndTotp(h, mia);
  });
  afterAll(async () => {
    await h.close();
  });

  it('FAC-7 refuses to add or remove a method with a sign-in older than the step-up window', async () => {
    const session = await signInWithGate(h, mia, enrolled);
    const listed = json<{ methods: { id: string }[] }>(await call(h, 'GET', '/api/me/methods', undefined, { token: session }));
    h.clock.advance(h.latchkey.deps.policy().signIn.stepUpSeconds + 1);
    const add = await call(h, 'POST', '/api/me/methods', { method: 'sms_code', phone: '+447700900555' }, { token: session });
    expect(add.statusCode).toBe(403);
    expect(json(add)['code']).toBe('auth.step_up_required');
    const remove = await call(h, 'DELETE', `/api/me/methods/${listed.methods[0]?.id ?? ''}`, undefined, { token: session });
    expect(remove.statusCode).toBe(403);
    expect(json<{ methods: unknown[] }>(await call(h, 'GET', '/api/me/methods', undefined, { token: session })).methods).toHaveLength(listed.methods.length);
  });

  it('FAC-7 tells every existing channel when a method is added, and the removed channel when one is removed, without secrets', async () => {
    const session = await signInWithGate(h, mia, enrolled);
    const phone = '+447700900666';
    const seen = await outboxIds(h);
    const added = json<{ enrollment: { id: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'sms_code', phone }, { token: session }));
    const code = await latestCode(h, phone);
    expect((await call(h, 'POST', `/api/me/methods/${added.enrollment.id}/verify`, { code }, { token: session })).statusCode).toBe(200);
    const addNotices = (await messagesSince(h, seen)).filter((message) => message.purpose === 'enrollment_notice');
    expect(new Set(addNotices.map((notice) => notice.to))).toEqual(new Set([mia.email, enrolled.altEmail]));
    for (const notice of addNotices) {
      expect(notice.text).not.toContain(code);
      expect(notice.text).not.toContain(phone);
    }

    const seenBeforeRemoval = await outboxIds(h);
    expect((await call(h, 'DELETE', `/api/me/methods/${added.enrollment.id}`, undefined, { token: session })).statusCode).toBe(204);
    const removeNotices = (await messagesSince(h, seenBeforeRemoval)).filter((message) => message.purpose === 'enrollment_notice');
    expect(new Set(removeNotices.map((notice) => notice.to))).toEqual(new Set([mia.email, enrolled.altEmail, phone]));
  });
});
