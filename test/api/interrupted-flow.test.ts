import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asFlowId } from '../../src/core/account/ids.ts';
import { ENGINES, auditEvents, call, createPerson, enrolEmailAndTotp, messagesTo, passTwoGates, startFlow, startHarness, type Harness } from '../support/harness.ts';

const NEW_PASSWORD = 'amber comet sails past nine harbours';

describe.each(ENGINES)('a flow interrupted after claiming its grant, on %s', (engine) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ engine });
  });
  afterAll(async () => {
    await h.close();
  });

  it('is closed by the sweeper, audited, ends the sessions and tells the person; the grant is dead', async () => {
    const ivy = await createPerson(h, 'ivy');
    const enrolled = await enrolEmailAndTotp(h, ivy);
    const started = await startFlow(h, 'ivy');
    const grant = await passTwoGates(h, started.token, enrolled);
    const directory = h.latchkey.deps.directory;
    const original = directory.setPassword.bind(directory);
    // The process "dies" after the directory write: the reply never comes and nothing after it runs.
    directory.setPassword = async (id, password) => {
      await original(id, password);
      return new Promise(() => undefined);
    };
    void call(h, 'POST', '/api/recovery/flow/password', { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, { token: grant });
    const flowId = asFlowId(started.body.flow.flowId);
    for (let tries = 0; tries < 100 && (await h.latchkey.store.flows.get(flowId))?.stateName !== 'completing'; tries += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await h.latchkey.store.flows.get(flowId))?.stateName).toBe('completing');

    expect(await h.latchkey.recovery.sweepInterrupted(120)).toBe(0);
    h.clock.advance(121);
    expect(await h.latchkey.recovery.sweepInterrupted(120)).toBe(1);
    expect(await h.latchkey.recovery.sweepInterrupted(120)).toBe(0);

    expect((await h.latchkey.store.flows.get(flowId))?.stateName).toBe('interrupted');
    const types = (await auditEvents(h, { flowId })).map((event) => event.type);
    expect(types).toContain('grant.claimed');
    expect(types).toContain('recovery.interrupted');
    expect(types).not.toContain('password.reset');
    expect(types).toContain('session.ended');
    const notices = (await messagesTo(h, ivy.email)).filter((message) => message.subject.includes('interrupted'));
    expect(notices).toHaveLength(1);
    expect((await call(h, 'GET', '/api/me/methods', undefined, { token: enrolled.session })).statusCode).toBe(401);
    expect((await call(h, 'POST', '/api/recovery/flow/password', { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, { token: grant })).statusCode).toBe(404);
  });
});
