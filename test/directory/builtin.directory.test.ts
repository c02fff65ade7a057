import { randomBytes } from 'node:crypto';
import { describe } from 'vitest';
import { normalisePassword } from '../../src/adapters/directory/builtin/builtin-directory.ts';
import { ENGINES, startHarness } from '../support/harness.ts';
import { describeDirectoryContract, type DirectoryFixture } from './directory.contract.ts';

describe.each(ENGINES)('built-in directory on %s', (engine) => {
  describeDirectoryContract(`built-in (${engine})`, async (): Promise<DirectoryFixture> => {
    const h = await startHarness({ engine });
    const { directory, passwords, store } = h.latchkey.deps;
    return {
      directory,
      async createPerson(person) {
        const email = person.email ?? `${person.username}@corp.test`;
        const accountId = await h.latchkey.accounts.create(
          {
            username: person.username,
            email,
            password: person.password,
            ...(person.displayName ? { displayName: person.displayName } : {}),
            ...(person.department ? { department: person.department } : {}),
            ...(person.groups ? { groups: [...person.groups] } : {}),
          },
          { kind: 'cli', id: 'test' },
        );
        return { username: person.username, email, password: person.password, accountId };
      },
      async lockByFailedSignIns(person) {
        for (let attempt = 0; attempt < h.latchkey.deps.policy().signIn.lockoutThreshold; attempt += 1) {
          await directory.verifyPassword(person.accountId, `not the password ${attempt}`);
        }
      },
      async checkPassword(person, password) {
        // The stored argon2id hash, read straight from the store: independent of the directory code.
        const record = await store.builtinAccounts.get(person.accountId);
        return record !== null && record.enabled && record.lockedAt === null && (await passwords.verify(record.passwordHash, normalisePassword(password)));
      },
      directoryPolicy: null,
      storesPhone: false,
      freshPassword: () => `${randomBytes(6).toString('hex')} purple otters juggle lanterns`,
      close: () => h.close(),
    };
  });
});
