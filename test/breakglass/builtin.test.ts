import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { allMessages, auditEvents, call, createPerson, ENGINES, roomyLimits, startFlow, startHarness, type Harness } from '../support/harness.ts';
import { normalise } from '../security/checks.support.ts';
import { asAccountId } from '../../src/core/account/ids.ts';
import { breakGlassLifecycle, SECURITY_ADMIN_ENV } from './scenario.ts';

/*
 * Break-glass accounts on the built-in directory, SQLite and PostgreSQL: the whole custody life
 * (scenario.ts), and self-service refused through the API like a decoy with exactly one critical
 * alert per attempt, raised by the detector worker as it runs in `serve`.
 */

for (const engine of ENGINES) {
  let h: Harness;
  breakGlassLifecycle({
    name: `the built-in directory (${engine})`,
    async start() {
      h = await startHarness({ engine, env: SECURITY_ADMIN_ENV });
      return h;
    },
    async addBreakGlassAccount(name) {
      const person = await createPerson(h, name, { groups: ['break-glass'], department: 'IT' });
      return { username: person.username, accountId: asAccountId(person.accountId), password: person.password };
    },
    async addOrdinaryAccount(name) {
      return { username: (await createPerson(h, name)).username };
    },
    async checkPassword(username, password) {
      const lookup = await h.latchkey.deps.directory.findByIdentifier(username);
      return lookup.kind === 'one' && (await h.latchkey.deps.directory.verifyPassword(lookup.account.id, password)) === 'valid';
    },
    async changePasswordOutOfBand(_username, accountId, password) {
      // A direct write to the store, as a database administrator or a restored backup would make it.
      const later = new Date(h.clock.now().getTime() + 1_000);
      await h.latchkey.store.builtinAccounts.setPassword(accountId, await h.latchkey.deps.passwords.hash(password), later);
    },
    addToGroupOutOfBand: null,
    async stop() {},
  });
}

describe.each(ENGINES)('self-service for a break-glass account on %s', (engine) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ engine, policy: [roomyLimits], env: { LATCHKEY_DETECTORS__POLL_INTERVAL_MS: '20' } });
    await createPerson(h, 'bg2', { groups: ['break-glass'], department: 'IT' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('answers a reset and an unlock exactly like an unknown account, sends nothing, and raises one critical alert per attempt within two seconds', async () => {
    h.latchkey.detectors.worker.start();
    try {
      for (const purpose of ['reset', 'unlock'] as const) {
        const began = Date.now();
        const real = await startFlow(h, 'bg2', purpose);
        const ghost = await startFlow(h, 'ghost-bg', purpose);
        expect(normalise(real.response)).toEqual(normalise(ghost.response));
        const chosenReal = await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: real.token });
        const chosenGhost = await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: ghost.token });
        expect(normalise(chosenReal)).toEqual(normalise(chosenGhost));
        const answered = await call(h, 'POST', '/api/recovery/flow/answer', { code: '12345678' }, { token: real.token });
        expect(answered.statusCode).toBe(422);

        const flowId = real.body.flow.flowId;
        let alerts = await h.latchkey.store.alerts.list({ detectorId: 'break_glass_touch', limit: 100 });
        while (!alerts.some((alert) => alert.dedupeKey === `break_glass_touch:${flowId}`) && Date.now() - began < 5_000) {
          await new Promise((resolve) => setTimeout(resolve, 10));
          alerts = await h.latchkey.store.alerts.list({ detectorId: 'break_glass_touch', limit: 100 });
        }
        const latencyMs = Date.now() - began;
        expect(latencyMs).toBeLessThan(2_000);
        const forFlow = alerts.filter((alert) => alert.dedupeKey === `break_glass_touch:${flowId}`);
        expect(forFlow.map((alert) => [alert.severity, alert.occurrences, alert.subject])).toEqual([['critical', 1, expect.stringMatching(/^builtin:/)]]);
        const refused = await auditEvents(h, { types: ['recovery.refused'], flowId });
        expect(refused.map((event) => [event.reason, event.tier])).toEqual([['self_service.unavailable', 'break_glass']]);
        process.stdout.write(`break_glass_touch alert for a ${purpose} on ${engine}: ${latencyMs} ms after the attempt began\n`);
      }
      // Two attempts, two alerts: one each, however many requests each attempt made.
      expect((await h.latchkey.store.alerts.list({ detectorId: 'break_glass_touch', limit: 100 })).length).toBe(2);
      expect(await allMessages(h)).toEqual([]);
    } finally {
      await h.latchkey.detectors.worker.stop();
    }
  });

  it('refuses a sign-in to manage methods with the right password exactly like a wrong one, never asks the directory, and raises a critical alert', async () => {
    const account = await createPerson(h, 'bg4', { groups: ['break-glass'], department: 'IT' });
    const ordinary = await createPerson(h, 'plain4');
    const refused = await call(h, 'POST', '/api/me/sign-in', { username: account.username, password: account.password });
    const wrong = await call(h, 'POST', '/api/me/sign-in', { username: ordinary.username, password: 'not the password of plain4' });
    expect(refused.statusCode).toBe(401);
    expect(normalise(refused)).toEqual(normalise(wrong));
    // The directory never saw the guess: the emergency account cannot be locked out through Latchkey.
    const stored = await h.latchkey.store.builtinAccounts.get(asAccountId(account.accountId));
    expect(stored?.failedSignIns).toBe(0);
    const events = (await auditEvents(h, { types: ['sign_in.failed'] })).filter((event) => event.subject === account.accountId);
    expect(events.map((event) => [event.reason, event.tier])).toEqual([['break_glass.no_self_service', 'break_glass']]);

    await h.latchkey.detectors.runner.run();
    const alerts = (await h.latchkey.store.alerts.list({ detectorId: 'break_glass_touch', limit: 100 })).filter((alert) => alert.subject === account.accountId);
    expect(alerts.map((alert) => alert.severity)).toEqual(['critical']);
  });
});

describe('the break-glass watch worker', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ engine: 'sqlite' });
    await createPerson(h, 'bg3', { groups: ['break-glass'], department: 'IT' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('runs a pass as soon as serve starts it, raises what it finds, and stops cleanly', async () => {
    await h.latchkey.breakGlass.service.seal('bg3', ['alice', 'bob'], 2, { kind: 'cli', id: 'test', ip: null, userAgent: null });
    h.clock.advance(91 * 86_400);
    h.latchkey.breakGlass.watch.start();
    try {
      const began = Date.now();
      let overdue = await h.latchkey.store.alerts.list({ detectorId: 'break_glass_drill_overdue', limit: 10 });
      while (overdue.length === 0 && Date.now() - began < 5_000) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        overdue = await h.latchkey.store.alerts.list({ detectorId: 'break_glass_drill_overdue', limit: 10 });
      }
      expect(overdue.map((alert) => alert.severity)).toEqual(['high']);
    } finally {
      await h.latchkey.breakGlass.watch.stop();
    }
  });
});
