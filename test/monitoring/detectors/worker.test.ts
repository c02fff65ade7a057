import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, composeSibling, createPerson, ENGINES, enrolEmailAndTotp, latestCode, roomyLimits, startFlow, startHarness, type Harness, type PolicyEdit } from '../../support/harness.ts';
import { wrongCode } from '../../security/support.ts';
import { DetectorRunner } from '../../../src/core/monitoring/detector-runner.ts';
import type { Finding } from '../../../src/core/monitoring/finding.ts';
import type { FindingSink } from '../../../src/core/monitoring/finding-sink.ts';
import type { AuditRecord } from '../../../src/core/audit/events.ts';
import { asFlowId } from '../../../src/core/account/ids.ts';
import { buildHttpApp } from '../../../src/server/http/app.ts';

/*
 * The detector worker end to end: real audit events written by API flows, judged by the runner over
 * the real store (SQLite, and PostgreSQL when configured), findings handed to the sink; then
 * restarts, a crash mid-hand-off and two instances racing, without a finding lost or repeated.
 */

/** The detectors' side of the hand-off: it records what it was given, or refuses like a failing alert store. */
class RecordingSink implements FindingSink {
  readonly findings: Finding[] = [];
  constructor(private readonly failing = false) {}
  raise(finding: Finding): Promise<void> {
    if (this.failing) return Promise.reject(new Error('alert store unavailable'));
    this.findings.push(finding);
    return Promise.resolve();
  }
}

const watchful: PolicyEdit = (policy) => {
  policy.monitoring.repeated_failures.perAccount = { count: 3, windowSeconds: 900 };
  policy.monitoring.repeated_failures.perIp = { count: 50, windowSeconds: 900 };
  policy.monitoring.reset_spray.perIp = { accounts: 4, windowSeconds: 3600 };
  policy.monitoring.reset_spray.refuseAtStart = true;
};

const ATTACKER = '203.0.113.9';

describe.each(ENGINES)('the detector worker on %s', (engine) => {
  let h: Harness;
  const sink = new RecordingSink();
  const handedOn: Finding[] = [];
  let aliceToken = '';
  let altEmail = '';

  const newRunner = (target: FindingSink): DetectorRunner =>
    new DetectorRunner({ store: h.latchkey.store, sink: target, clock: h.clock, monitoring: () => h.latchkey.deps.policy().monitoring, context: { geo: null, denyList: null, travelWindows: null } });
  const auditById = async (): Promise<Map<string, AuditRecord>> => {
    const byId = new Map<string, AuditRecord>();
    for await (const record of h.latchkey.store.audit.iterate()) byId.set(record.id, record);
    return byId;
  };

  beforeAll(async () => {
    h = await startHarness({ engine, policy: [roomyLimits, watchful], findingSink: sink });
    const alice = await createPerson(h, 'alice', { department: 'Engineering' });
    altEmail = (await enrolEmailAndTotp(h, alice)).altEmail;
    await createPerson(h, 'root', { groups: ['admins'], department: 'IT' });
    await createPerson(h, 'bg1', { groups: ['break-glass'], department: 'IT' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('judges the events of real API flows and hands the findings to the sink, each citing its events', async () => {
    const started = await startFlow(h, 'alice@corp.test', 'reset', { ip: ATTACKER });
    aliceToken = started.token;
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: aliceToken, ip: ATTACKER });
    const code = await latestCode(h, altEmail);
    for (let i = 0; i < 3; i += 1) expect((await call(h, 'POST', '/api/recovery/flow/answer', { code: wrongCode(code) }, { token: aliceToken, ip: ATTACKER })).statusCode).toBe(422);
    for (const ghost of ['ghost1', 'ghost2', 'ghost3']) await startFlow(h, ghost, 'reset', { ip: ATTACKER });

    const outcome = await h.latchkey.detectors.worker.runOnce();
    expect(outcome.judged).toBeGreaterThan(10);
    expect(sink.findings.map((f) => f.dedupeKey)).toEqual([
      // Two findings from one event (the attacker's start for alice) come in detector-id order.
      expect.stringMatching(/^recent_method_change:builtin:/),
      expect.stringMatching(/^unusual_network:builtin:.+:203\.0\.113\.0\/24$/),
      expect.stringMatching(/^repeated_failures:account:builtin:/),
      `reset_spray:ip:${ATTACKER}`,
    ]);
    const byId = await auditById();
    const [methodChange, unusual, failures, spray] = sink.findings;
    expect(failures?.eventIds.map((id) => byId.get(id)?.type)).toEqual(['challenge.failed', 'challenge.failed', 'challenge.failed']);
    expect(failures?.subject).toBe(byId.get(failures?.eventIds[0] ?? '')?.subject);
    expect(spray?.eventIds.map((id) => byId.get(id)?.type)).toEqual(['recovery.started', 'recovery.started', 'recovery.started', 'recovery.started']);
    expect(spray?.eventIds.every((id) => byId.get(id)?.ip === ATTACKER)).toBe(true);
    expect(spray?.observed).toMatchObject({ distinct_targets: 4, known_accounts: 1, unknown_identifiers: 3 });
    expect(methodChange?.eventIds.map((id) => byId.get(id)?.type)).toEqual(['enrollment.activated', 'enrollment.activated', 'recovery.started']);
    expect(unusual?.baseline).toBe('networks and providers this account succeeded from before: 127.0.0.0/24');
    expect(h.latchkey.detectors.runner.position).toBe((await h.latchkey.store.audit.head()).seq);
    expect(await h.latchkey.store.monitorState.countPending()).toBe(0);
    handedOn.push(...sink.findings);
  });

  it('a new process over the same database refuses a flagged address from its first request and raises nothing again', async () => {
    const sink2 = new RecordingSink();
    const second = await composeSibling(h, { findingSink: sink2 });
    const app2 = await buildHttpApp(second, { logger: false });
    try {
      // Before its worker ever ran, the new process knows the spraying address from the stored flags.
      expect(second.detectors.runner.assessStart(ATTACKER, h.clock.now())).toEqual({ detectorId: 'reset_spray', rule: 'flagged_ip' });
      const reply = await app2.inject({ method: 'POST', url: '/api/recovery/flows', remoteAddress: ATTACKER, headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ identifier: 'alice', purpose: 'reset' }) });
      expect(reply.statusCode).toBe(201);
      const flowId = reply.json<{ flow: { flowId: string } }>().flow.flowId;
      expect((await auditEventsOf(h, flowId)).map((event) => event.type)).toEqual(['recovery.started', 'recovery.risk_refused']);
      const outcome = await second.detectors.worker.runOnce();
      expect(outcome.judged).toBe(2);
      expect(sink2.findings).toEqual([]);
    } finally {
      await app2.close();
      await second.close();
    }
  });

  it('after a restart resumes from the durable cursor and state: new findings only, no episode raised twice', async () => {
    // More guessing in the same episode (already raised), and a privileged recovery (new).
    await call(h, 'POST', '/api/recovery/flow/answer', { code: '00000000' }, { token: aliceToken, ip: ATTACKER });
    const root = await startFlow(h, 'root', 'reset');
    const restarted = new RecordingSink();
    await newRunner(restarted).run();
    expect(restarted.findings.map((f) => [f.detectorId, f.dedupeKey, f.summary])).toEqual([
      ['privileged_recovery', `privileged_recovery:${root.body.flow.flowId}`, 'A reset of a privileged account was started'],
    ]);
    handedOn.push(...restarted.findings);
  });

  it('keeps a finding the sink refused and hands it on after the next restart, once', async () => {
    await startFlow(h, 'bg1', 'reset');
    const failing = new RecordingSink(true);
    await expect(newRunner(failing).run()).rejects.toThrow('alert store unavailable');
    expect(await h.latchkey.store.monitorState.countPending()).toBe(1);
    // The refused finding's lease runs out; a fresh runner (the restarted process) takes it over.
    h.clock.advance(61);
    const recovered = new RecordingSink();
    const outcome = await newRunner(recovered).run();
    expect(outcome).toEqual({ judged: 0, handedOn: 1 });
    expect(recovered.findings.map((f) => [f.detectorId, f.severity])).toEqual([['break_glass_touch', 'critical']]);
    expect(await h.latchkey.store.monitorState.countPending()).toBe(0);
    handedOn.push(...recovered.findings);
  });

  it('with two instances judging the same events, hands each finding on exactly once', async () => {
    const flows = [await startFlow(h, 'root', 'reset'), await startFlow(h, 'root', 'unlock')];
    const shared = new RecordingSink();
    await Promise.all([newRunner(shared).run(), newRunner(shared).run(), newRunner(shared).run()]);
    expect(shared.findings.map((f) => f.dedupeKey).sort()).toEqual(flows.map((flow) => `privileged_recovery:${flow.body.flow.flowId}`).sort());
    handedOn.push(...shared.findings);
    // Across every restart and race: no finding was handed on twice.
    const keys = handedOn.map((f) => `${f.dedupeKey}|${f.eventIds.join(',')}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(handedOn).toHaveLength(8);
  });
});

describe.each(ENGINES)('the detector worker raising into the alert service on %s', (engine) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ engine, policy: [roomyLimits] });
    await createPerson(h, 'root', { groups: ['admins'], department: 'IT' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('stores a privileged recovery as one open alert that a second run does not repeat', async () => {
    const started = await startFlow(h, 'root', 'reset');
    await h.latchkey.detectors.worker.runOnce();
    await h.latchkey.detectors.worker.runOnce();
    const alert = await h.latchkey.store.alerts.findActive(`privileged_recovery:${started.body.flow.flowId}`);
    expect(alert).toMatchObject({ detectorId: 'privileged_recovery', severity: 'high', status: 'open', occurrences: 1, summary: 'A reset of a privileged account was started', department: 'IT' });
    const [begun] = (await auditEventsOf(h, started.body.flow.flowId)).filter((event) => event.type === 'recovery.started');
    expect(alert?.eventIds).toEqual([begun?.id]);
  });
});

async function auditEventsOf(h: Harness, flowId: string): Promise<AuditRecord[]> {
  return h.latchkey.store.audit.query({ flowId: asFlowId(flowId), limit: 100 });
}
