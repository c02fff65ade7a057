import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harnessCliEnv, runLatchkey } from '../support/cli.ts';
import { auditEvents, createPerson, enrolEmailAndTotp, roomyLimits, startHarness, type Enrolled, type Harness } from '../support/harness.ts';
import { privilegedRecovery } from './support.ts';

/*
 * `latchkey privileged holds` and `latchkey privileged confirm` against the database a running
 * instance wrote (SQLite: the harness's data directory), in this process as the command would run.
 */

async function cli(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string }> {
  const { code, stdout } = await runLatchkey(env, args);
  return { code, stdout };
}

describe('the privileged CLI commands', () => {
  let h: Harness;
  let enrolled: Enrolled;
  let env: Record<string, string>;

  beforeAll(async () => {
    h = await startHarness({ engine: 'sqlite', policy: [roomyLimits, (policy) => void (policy.privileged.holdForConfirmation = true)] });
    enrolled = await enrolEmailAndTotp(h, await createPerson(h, 'adm', { groups: ['admins'] }), { recoveryCodes: true });
    env = harnessCliEnv(h);
  });
  afterAll(async () => {
    await h.close();
  });

  it('lists a held recovery and confirms it, audited with the CLI user as actor', async () => {
    const flowId = await privilegedRecovery(h, 'adm', enrolled, 0);
    const listed = await cli(env, 'privileged', 'holds', '--status', 'held');
    expect(listed.code).toBe(0);
    const [line, ...rest] = listed.stdout.trim().split('\n');
    expect(rest).toEqual([]);
    const [holdId, status, purpose] = (line ?? '').split('\t');
    expect([status, purpose]).toEqual(['held', 'reset']);

    expect((await cli(env, 'privileged', 'confirm', holdId ?? '', '--reason', ' ')).code).toBe(2);
    const confirmed = await cli(env, 'privileged', 'confirm', holdId ?? '', '--reason', 'owner confirmed in person');
    expect(confirmed).toEqual({ code: 0, stdout: `${holdId} confirmed\n` });
    const [event] = await auditEvents(h, { types: ['privileged.recovery_confirmed'], flowId });
    expect(event).toMatchObject({ actor: { kind: 'cli' }, data: { hold_id: holdId, reason_text: 'owner confirmed in person' } });
    expect((await cli(env, 'privileged', 'confirm', holdId ?? '', '--reason', 'again')).code).toBe(1);
  });
});
