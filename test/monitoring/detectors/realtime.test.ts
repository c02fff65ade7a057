import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, call, createPerson, ENGINES, enrolEmailAndTotp, messagesTo, roomyLimits, startFlow, startHarness, type Harness, type PolicyEdit } from '../../support/harness.ts';
import { normalise } from '../../security/checks.support.ts';

/*
 * Real-time use of the detectors: a start from a deny-listed address, or from one a detector flags,
 * becomes a decoy. Through the HTTP API it must look exactly like any other start (ENUM-1), nothing
 * may reach the person, and the refusal is audited.
 */

const guarded: PolicyEdit = (policy) => {
  policy.monitoring.repeated_failures.perIp = { count: 3, windowSeconds: 900 };
  policy.monitoring.repeated_failures.refuseAtStart = true;
  policy.monitoring.unusual_network.refuseDenyListed = true;
  policy.monitoring.reset_spray.refuseAtStart = true;
  policy.monitoring.reset_spray.perIp = { accounts: 100, windowSeconds: 60 };
  policy.monitoring.reset_spray.perNetwork = { accounts: 3, windowSeconds: 60 };
};

const CLEAN = '198.51.100.1';
const LISTED = '192.0.2.50';
const GUESSER = '203.0.113.77';

describe.each(ENGINES)('real-time refusal at the start of a recovery on %s', (engine) => {
  let h: Harness;
  let dir: string;
  let denyFile: string;
  let altEmail: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-deny-'));
    denyFile = join(dir, 'tor-exits.txt');
    await writeFile(denyFile, '# test exits\n192.0.2.0/24\n');
    h = await startHarness({ engine, policy: [roomyLimits, guarded], env: { LATCHKEY_DETECTORS__DENY_LIST_FILES: denyFile } });
    const alice = await createPerson(h, 'alice');
    altEmail = (await enrolEmailAndTotp(h, alice)).altEmail;
  });
  afterAll(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Starts a reset (alice's by default) and chooses the email code; returns both normalised replies and how many codes reached alice. */
  async function attempt(ip: string, identifier = 'alice@corp.test') {
    const before = (await messagesTo(h, altEmail)).length;
    const started = await startFlow(h, identifier, 'reset', { ip });
    const chosen = await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: started.token, ip });
    const after = (await messagesTo(h, altEmail)).length;
    return { flowId: started.body.flow.flowId, start: normalise(started.response), choose: normalise(chosen), sent: after - before };
  }

  const refusals = async (flowId: string) => (await auditEvents(h, { types: ['recovery.risk_refused'], flowId })).map((event) => [event.reason, event.data['detector'], event.data['rule'], event.ip]);

  it('answers a start from a deny-listed address exactly like any other, sends nothing, and audits the refusal', async () => {
    const real = await attempt(CLEAN);
    const ghost = await attempt(CLEAN, 'ghost@corp.test');
    const listed = await attempt(LISTED);
    expect(real.sent).toBe(1);
    expect(ghost.sent).toBe(0);
    expect(listed.sent).toBe(0);
    expect(listed.start).toEqual(real.start);
    expect(listed.start).toEqual(ghost.start);
    expect(listed.choose).toEqual(real.choose);
    expect(await refusals(listed.flowId)).toEqual([['risk.deny_list', 'unusual_network', 'deny_list', LISTED]]);
    expect(await refusals(real.flowId)).toEqual([]);
    const [started] = await auditEvents(h, { types: ['recovery.started'], flowId: listed.flowId });
    expect(started?.data['decoy']).toBe(true);
  });

  it('refuses an address while repeated_failures flags it, and no longer once the window has passed', async () => {
    // Guessing from one address, against unknown identifiers: three failed gates.
    for (let i = 0; i < 3; i += 1) {
      const decoy = await startFlow(h, `ghost${i}`, 'reset', { ip: GUESSER });
      await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: decoy.token, ip: GUESSER });
      expect((await call(h, 'POST', '/api/recovery/flow/answer', { code: '12345678' }, { token: decoy.token, ip: GUESSER })).statusCode).toBe(422);
    }
    // Not yet judged: the worker runs off the request path.
    expect((await attempt(GUESSER)).sent).toBe(1);
    await h.latchkey.detectors.worker.runOnce();
    const flagged = await attempt(GUESSER);
    const clean = await attempt(CLEAN);
    expect(flagged.sent).toBe(0);
    expect(clean.sent).toBe(1);
    expect(flagged.start).toEqual(clean.start);
    expect(flagged.choose).toEqual(clean.choose);
    expect(await refusals(flagged.flowId)).toEqual([['risk.flagged_ip', 'repeated_failures', 'flagged_ip', GUESSER]]);
    h.clock.advance(901);
    expect((await attempt(GUESSER)).sent).toBe(1);
  });

  it('picks up a changed deny list on refresh (the interval timer and SIGHUP call the same)', async () => {
    expect((await attempt('198.51.100.99')).sent).toBe(1);
    await writeFile(denyFile, '# test exits\n192.0.2.0/24\n198.51.100.99\n');
    await h.latchkey.detectors.worker.refresh();
    const refused = await attempt('198.51.100.99');
    expect(refused.sent).toBe(0);
    expect(await refusals(refused.flowId)).toEqual([['risk.deny_list', 'unusual_network', 'deny_list', '198.51.100.99']]);
  });

  it('refuses a whole IPv6 /64 while reset_spray flags it, and not the network next to it', async () => {
    h.clock.advance(120);
    for (let i = 1; i <= 3; i += 1) await startFlow(h, `sprayed${i}`, 'reset', { ip: `2001:db8:77:1::${i}` });
    await h.latchkey.detectors.worker.runOnce();
    const sameNetwork = await attempt('2001:db8:77:1::99');
    const nextNetwork = await attempt('2001:db8:77:2::1');
    expect(sameNetwork.sent).toBe(0);
    expect(nextNetwork.sent).toBe(1);
    expect(sameNetwork.start).toEqual(nextNetwork.start);
    expect(sameNetwork.choose).toEqual(nextNetwork.choose);
    expect(await refusals(sameNetwork.flowId)).toEqual([['risk.flagged_network', 'reset_spray', 'flagged_network', '2001:db8:77:1::99']]);
  });
});
