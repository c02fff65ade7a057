import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppDeps } from '../../src/core/app/deps.ts';
import type { AuditEventInput } from '../../src/core/audit/events.ts';
import { SelfServiceService } from '../../src/core/enrollment/service.ts';
import { RecoveryService } from '../../src/core/flows/recovery/service.ts';
import type { RateLimitBucket, RateLimiter } from '../../src/core/ports/rate-limiter.ts';
import type { Repositories, Store } from '../../src/core/ports/store.ts';
import type { Latchkey } from '../../src/server/compose.ts';
import { ENGINES, auditEvents, call, createPerson, enrolEmailAndTotp, json, latestCode, passTwoGates, startFlow, startHarness, type Enrolled, type FlowBody, type Harness, type Person } from '../support/harness.ts';
import { harnessOver, outboxSize } from './checks.support.ts';

/*
 * LOG-8: when a dependency the controls rest on fails, recovery fails closed. Without its rate
 * limiter no code is checked (so guessing cannot go unthrottled), no flow starts, no code is sent
 * and no sign-in happens; without its audit log no password is written; and once the grant is
 * claimed, a write is never left without an audit record.
 */

const NEW_PASSWORD = 'amber foxes cross the silent weir';

/** The harness's rate limiter, failing for the given buckets as a store outage would. */
function failingLimiter(real: RateLimiter, failing: ReadonlySet<RateLimitBucket>): RateLimiter {
  return {
    consume: (bucket, key, rule) => (failing.has(bucket) ? Promise.reject(new Error('rate-limit store unavailable')) : real.consume(bucket, key, rule)),
    reset: (bucket, key) => (failing.has(bucket) ? Promise.reject(new Error('rate-limit store unavailable')) : real.reset(bucket, key)),
  };
}

/** The harness's store, whose audit appends fail while `failing(events)` says so. */
function failingAudit(real: Store, failing: (events: readonly AuditEventInput[]) => boolean): Store {
  const guard = <T extends Repositories>(repositories: T): T => ({
    ...repositories,
    audit: {
      ...repositories.audit,
      append: (events: readonly AuditEventInput[]) => (events.length > 0 && failing(events) ? Promise.reject(new Error('audit sink unavailable')) : repositories.audit.append(events)),
      query: repositories.audit.query.bind(repositories.audit),
      iterate: repositories.audit.iterate.bind(repositories.audit),
      head: repositories.audit.head.bind(repositories.audit),
    },
  });
  return { ...guard(real), engine: real.engine, transaction: (work) => real.transaction((tx) => work(guard(tx))), ping: () => real.ping(), close: () => real.close() };
}

/** A harness view whose services run over modified dependencies. */
async function over(h: Harness, deps: AppDeps): Promise<Harness> {
  const recovery = new RecoveryService(deps);
  const latchkey: Latchkey = { ...h.latchkey, deps, recovery, selfService: new SelfServiceService(deps, recovery) };
  return harnessOver(h, latchkey);
}

function expectRefusedAsFailure(response: { statusCode: number; body: string }, label: string): void {
  expect(response.statusCode, `${label}: ${response.body}`).toBeGreaterThanOrEqual(500);
  expect(response.body, label).not.toMatch(/rate-limit store|audit sink/);
}

describe.each(ENGINES)('failing closed on %s', (engine) => {
  let h: Harness;
  let alice: Person;
  let enrolled: Enrolled;
  beforeAll(async () => {
    h = await startHarness({ engine });
    alice = await createPerson(h, 'alice');
    enrolled = await enrolEmailAndTotp(h, alice);
  });
  afterAll(async () => {
    await h.close();
  });

  it('LOG-8 refuses to check even the right code while the failure throttle cannot be counted, and no gate passes', async () => {
    const broken = await over(h, { ...h.latchkey.deps, rateLimiter: failingLimiter(h.latchkey.deps.rateLimiter, new Set(['account'])) });
    try {
      const { token, body } = await startFlow(h, 'alice');
      expect((await call(broken, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token })).statusCode).toBe(200);
      const code = await latestCode(h, enrolled.altEmail);
      for (let attempt = 0; attempt < 3; attempt += 1) expectRefusedAsFailure(await call(broken, 'POST', '/api/recovery/flow/answer', { code }, { token }), 'right code');
      expectRefusedAsFailure(await call(broken, 'POST', '/api/recovery/flow/answer', { code: '00000000' }, { token }), 'wrong code');
      expect(json<FlowBody>(await call(h, 'GET', '/api/recovery/flow', undefined, { token })).flow).toMatchObject({ step: 'awaiting_challenge_answer', gatesPassed: 0 });
      expect(await auditEvents(h, { flowId: body.flow.flowId, types: ['challenge.passed', 'challenge.failed'] })).toEqual([]);
      // The outage consumed nothing: once the limiter is back, the same code is checked normally.
      expect(json<FlowBody>(await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token })).flow.gatesPassed).toBe(1);
    } finally {
      await broken.close();
    }
  });

  it('LOG-8 starts no flow, sends no code and opens no session while the rate limiter is down', async () => {
    const broken = await over(h, { ...h.latchkey.deps, rateLimiter: failingLimiter(h.latchkey.deps.rateLimiter, new Set(['ip', 'identifier', 'flow', 'recipient', 'sign_in', 'account'])) });
    try {
      const started = (await auditEvents(h, { types: ['recovery.started'] })).length;
      const messages = await outboxSize(h);
      for (const identifier of ['alice', 'ghost']) expectRefusedAsFailure(await call(broken, 'POST', '/api/recovery/flows', { identifier }), `start ${identifier}`);
      const { token } = await startFlow(h, 'alice');
      expectRefusedAsFailure(await call(broken, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token }), 'choose');
      expectRefusedAsFailure(await call(broken, 'POST', '/api/me/sign-in', { username: 'alice', password: alice.password }), 'sign-in');
      expect((await auditEvents(h, { types: ['recovery.started'] })).length).toBe(started + 1);
      expect(await outboxSize(h)).toBe(messages);
    } finally {
      await broken.close();
    }
  });

  it('LOG-8 writes no password while the audit log cannot be written, and the grant survives the outage', async () => {
    h.clock.advance(30);
    const grant = await passTwoGates(h, (await startFlow(h, 'alice')).token, enrolled);
    const broken = await over(h, { ...h.latchkey.deps, store: failingAudit(h.latchkey.store, () => true) });
    try {
      expectRefusedAsFailure(await call(broken, 'POST', '/api/recovery/flow/password', { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, { token: grant }), 'set password');
      expect(await h.latchkey.deps.directory.verifyPassword(alice.accountId as never, alice.password)).toBe('valid');
      expect(json<FlowBody>(await call(h, 'GET', '/api/recovery/flow', undefined, { token: grant })).flow.step).toBe('awaiting_new_password');
    } finally {
      await broken.close();
    }
    expect((await call(h, 'POST', '/api/recovery/flow/password', { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, { token: grant })).statusCode).toBe(200);
    alice = { ...alice, password: NEW_PASSWORD };
  });

  it('LOG-8 never leaves a written password without an audit record: the claim is recorded before the directory write', async () => {
    h.clock.advance(30);
    const started = await startFlow(h, 'alice');
    const grant = await passTwoGates(h, started.token, enrolled);
    // The audit log fails only from the moment the directory has been written.
    const broken = await over(h, { ...h.latchkey.deps, store: failingAudit(h.latchkey.store, (events) => events.some((event) => event.type === 'password.reset')) });
    const next = 'quiet copper bells ring at dawn';
    try {
      expectRefusedAsFailure(await call(broken, 'POST', '/api/recovery/flow/password', { password: next, confirmPassword: next }, { token: grant }), 'set password');
    } finally {
      await broken.close();
    }
    const written = (await h.latchkey.deps.directory.verifyPassword(alice.accountId as never, next)) === 'valid';
    const claims = await auditEvents(h, { flowId: started.body.flow.flowId, types: ['grant.claimed'] });
    expect(claims).toHaveLength(1);
    expect(claims[0]).toMatchObject({ subject: alice.accountId, outcome: 'info' });
    // The write went through before the audit failed; the claim written ahead of it is its record.
    expect(written).toBe(true);
  });
});
