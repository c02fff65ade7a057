import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allMessages, auditEvents, enrolEmailAndTotp, ENGINES, roomyLimits, startFlow, startHarness, type Harness, type Person } from '../support/harness.ts';
import { seedSlapdPerson, slapdDirectoryConfig, startSlapd, type Slapd } from '../support/slapd.ts';
import { privilegedRecovery } from './support.ts';

/*
 * A privileged reset against a real slapd: the tier comes from the directory's own group, the
 * security admins are found by listing the directory (their groups mapped by policy adminRoles),
 * ldapwhoami accepts the new password, and the hold keeps the account out of self-service.
 */

let slapd: Slapd;
beforeAll(async () => {
  slapd = await startSlapd();
});
afterAll(async () => {
  await slapd?.close();
});

describe.each(ENGINES)('a privileged recovery against OpenLDAP (%s)', (engine) => {
  let h: Harness;
  const uid = (name: string): string => `${name}${engine}`;
  const seed = (name: string, groups: string[]): Promise<Person> => seedSlapdPerson(slapd, uid(name), { department: 'IT', groups });

  beforeAll(async () => {
    h = await startHarness({
      engine,
      directory: slapdDirectoryConfig(slapd, { privilegedGroups: ['tier0'] }),
      policy: [
        roomyLimits,
        (policy) => {
          policy.adminRoles.security_admin = [`secops${engine}`];
          policy.privileged.holdForConfirmation = true;
        },
      ],
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('resets a directory-privileged account, mails the directory security admins and holds the account', async () => {
    const root = await seed('root', ['tier0']);
    const secA = await seed('seca', [`secops${engine}`]);
    const secB = await seed('secb', [`secops${engine}`]);
    const enrolled = await enrolEmailAndTotp(h, root, { recoveryCodes: true });
    const flowId = await privilegedRecovery(h, root.username, enrolled, 0);
    expect(await slapd.checkPassword(root.username, 'violet harbour drifts 0 quiet miles')).toBe(true);

    const [completed] = await auditEvents(h, { types: ['recovery.completed'], flowId });
    expect(completed?.tier).toBe('privileged');
    const notices = (await allMessages(h)).filter((message) => message.purpose === 'security_alert');
    expect(notices.map((message) => message.to).sort()).toEqual([secA.email, secB.email].sort());
    expect((await auditEvents(h, { types: ['privileged.recovery_held'], flowId })).map((event) => event.subject)).toEqual([root.accountId]);

    const again = await startFlow(h, root.username);
    const refused = await auditEvents(h, { types: ['recovery.refused'], flowId: again.body.flow.flowId });
    expect(refused.map((event) => event.reason)).toEqual(['privileged.held']);
  });
});
