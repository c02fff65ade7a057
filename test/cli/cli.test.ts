import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../src/cli/context.ts';
import { composeLatchkey, type Latchkey } from '../../src/server/compose.ts';
import { buildHttpApp } from '../../src/server/http/app.ts';
import { parsePolicy } from '../../src/core/policy/load.ts';
import { ADMIN_SCOPES, cliPrincipal } from '../../src/core/admin/principal.ts';
import { kyselyOf } from '../../src/adapters/store/kysely-store.ts';
import { openStore } from '../../src/adapters/store/open-store.ts';
import { createPostgresStore } from '../../src/adapters/store/postgres.ts';
import type { Store } from '../../src/core/ports/store.ts';
import { ENGINES, POSTGRES_URL, type Engine } from '../support/harness.ts';
import { runLatchkey, withLatchkeyEnv, type CliRun } from '../support/cli.ts';
import { policySchema } from '../../src/core/policy/schema.ts';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const DEFAULT_POLICY = join(REPO, 'policy', 'default.yaml');

/** Runs the CLI in this process, as `latchkey ARGS` would, capturing what it writes. */
const cli = (env: Readonly<Record<string, string>>, ...args: string[]): Promise<CliRun> => runLatchkey(env, args);

const lines = (text: string): string[] => text.split('\n').filter((line) => line !== '');

/**
 * A place for one CLI "installation": a data directory with a latchkey.yaml, and on PostgreSQL a
 * schema of its own (chosen through the connection URL's search_path, as an operator could).
 */
interface Install {
  readonly env: Readonly<Record<string, string>>;
  readonly dir: string;
  openStore(): Promise<Store>;
  remove(): Promise<void>;
}

async function install(engine: Engine): Promise<Install> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-cli-'));
  const configFile = join(dir, 'latchkey.yaml');
  await writeFile(configFile, `# written by the CLI tests\ndataDir: ${JSON.stringify(join(dir, 'data'))}\nlogLevel: silent\n`);
  let schema: string | null = null;
  let databaseUrl: string | null = null;
  if (engine === 'postgres' && POSTGRES_URL) {
    schema = `lk_cli_${Math.random().toString(36).slice(2, 10)}`;
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    await client.query(`CREATE SCHEMA "${schema}"`);
    await client.end();
    const url = new URL(POSTGRES_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    databaseUrl = url.toString();
  }
  return {
    env: { LATCHKEY_CONFIG: configFile, ...(databaseUrl ? { LATCHKEY_DATABASE_URL: databaseUrl } : {}) },
    dir,
    openStore: () => (schema && POSTGRES_URL ? createPostgresStore({ connectionString: POSTGRES_URL, schema }) : openStore({ dataDir: join(dir, 'data'), migrate: false })),
    async remove() {
      if (schema && POSTGRES_URL) {
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await client.end();
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe.each(ENGINES)('the latchkey CLI on %s', (engine) => {
  let site: Install;
  const run = (...args: string[]): Promise<CliRun> => cli(site.env, ...args);
  /** The same installation as the CLI sees it, composed in this process (for the HTTP API and flows). */
  const compose = (): Promise<Latchkey> => withLatchkeyEnv(site.env, async () => composeLatchkey(await readConfig(), { notice: () => undefined }));

  beforeAll(async () => {
    site = await install(engine);
  });
  afterAll(async () => {
    await site.remove();
  });

  describe('migrate', () => {
    it('applies the migrations to a new database once, then says it is up to date', async () => {
      const fresh = await install(engine);
      try {
        const first = await cli(fresh.env, 'migrate');
        expect(first.code).toBe(0);
        expect(first.stdout).toMatch(/^applied: \S+/);

        const second = await cli(fresh.env, 'migrate');
        expect(second).toMatchObject({ code: 0, stdout: 'database is up to date\n' });
      } finally {
        await fresh.remove();
      }
    });
  });

  describe('users', () => {
    it('adds an account, prints only its id, and lists it', async () => {
      const added = await run('users', 'add', 'ada', '--email', 'Ada.Lovelace@Corp.test', '--display-name', 'Ada Lovelace', '--department', 'Research', '--group', 'analysts', 'engines');

      expect(added.code).toBe(0);
      expect(added.stdout).toMatch(/^builtin:[0-9a-f-]{36}\n$/);
      const id = added.stdout.trim();
      const listed = await run('users', 'list', '--query', 'ada');
      expect(listed.code).toBe(0);
      // Username and email are stored canonical (lower case).
      expect(lines(listed.stdout)).toEqual([['ada', id, 'ada.lovelace@corp.test', 'Research', 'analysts,engines', 'enabled', 'unlocked'].join('\t')]);
    });

    it('refuses a username that exists with exit 1 (a failure found) and a clear message', async () => {
      expect((await run('users', 'add', 'grace')).code).toBe(0);

      const again = await run('users', 'add', 'Grace');

      expect(again.code).toBe(1);
      expect(again.stdout).toBe('');
      expect(again.stderr).toContain("latchkey: username 'grace' already exists.");
      expect(lines((await run('users', 'list', '--query', 'grace')).stdout)).toHaveLength(1);
    });

    it.each([
      ['an email that is not an address', ['users', 'add', 'bad.email', '--email', 'not-an-address'], /email 'not-an-address' is not a single valid address/],
      ['two addresses in one', ['users', 'add', 'two.emails', '--email', 'a@corp.test,b@corp.test'], /email .* is not a single valid address/],
      ['a username with a space', ['users', 'add', 'has space'], /username 'has space' is not valid/],
      ['a username that is an email', ['users', 'add', 'me@corp.test'], /username 'me@corp.test' is not valid/],
    ])('refuses %s as a usage error (exit 2) and creates nothing', async (_label, args, message) => {
      const result = await run(...args);

      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).toBe('');
      const username = args[2] ?? '';
      expect((await run('users', 'list', '--query', username.split(/[ @]/)[0] ?? username)).stdout).not.toContain(`${username}\t`);
    });

    it('imports a CSV: creates the good rows and reports every bad row as FILE:row N with exit 1', async () => {
      const file = join(site.dir, 'people.csv');
      await writeFile(
        file,
        [
          'username,email,displayName,department,groups',
          'carol,carol@corp.test,Carol Danvers,Engineering,eng;oncall',
          'dave,not-an-email,Dave,Sales,',
          ',nobody@corp.test,No Name,,',
          '',
          'erin,erin@corp.test,Erin,,',
          'carol,carol.again@corp.test,Carol Again,,',
          '',
        ].join('\n'),
      );

      const result = await run('users', 'import', file);

      expect(result.code).toBe(1);
      expect(result.stdout).toBe('created 2 of 5 accounts; 3 failed\n');
      // Line numbers are the file's: the blank line 5 moves erin to line 6 and the duplicate to 7.
      expect(lines(result.stderr).filter((line) => line.startsWith(file))).toEqual([
        `${file}:row 3: email 'not-an-email' is not a single valid address.`,
        `${file}:row 4: username: is required`,
        `${file}:row 7: username 'carol' already exists.`,
      ]);
      const listed = lines((await run('users', 'list')).stdout).map((line) => line.split('\t'));
      expect(listed.find((row) => row[0] === 'carol')).toEqual(['carol', expect.stringMatching(/^builtin:/), 'carol@corp.test', 'Engineering', 'eng,oncall', 'enabled', 'unlocked']);
      expect(listed.find((row) => row[0] === 'erin')?.[2]).toBe('erin@corp.test');
      expect(listed.map((row) => row[0])).not.toContain('dave');
    });

    it('imports a JSON array the same way, reporting bad items as FILE:item N', async () => {
      const file = join(site.dir, 'people.json');
      await writeFile(
        file,
        JSON.stringify([
          { username: 'fay', email: 'fay@corp.test', groups: ['payroll'] },
          { username: 'gus', email: 'gus at corp' },
          'just a string',
          { username: 'hal', shoeSize: 44 },
          { username: 'ivy' },
        ]),
      );

      const result = await run('users', 'import', file);

      expect(result.code).toBe(1);
      expect(result.stdout).toBe('created 2 of 5 accounts; 3 failed\n');
      expect(lines(result.stderr).filter((line) => line.startsWith(file))).toEqual([
        `${file}:item 1: email 'gus at corp' is not a single valid address.`,
        `${file}:item 2: expected an object with a username`,
        expect.stringMatching(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:item 3: .*shoeSize`)),
      ]);
      const usernames = lines((await run('users', 'list')).stdout).map((line) => line.split('\t')[0]);
      expect(usernames).toEqual(expect.arrayContaining(['fay', 'ivy']));
      expect(usernames).not.toContain('hal');
    });

    it('imports a file without bad rows with exit 0', async () => {
      const file = join(site.dir, 'clean.csv');
      await writeFile(file, 'username,email\njack,jack@corp.test\nkate,kate@corp.test\n');

      expect(await run('users', 'import', file)).toMatchObject({ code: 0, stdout: 'created 2 of 2 accounts; 0 failed\n' });
    });

    it('refuses a file it cannot read or that is not an array as a usage error (exit 2)', async () => {
      const notArray = join(site.dir, 'object.json');
      await writeFile(notArray, '{"username":"solo"}');
      const broken = join(site.dir, 'broken.json');
      await writeFile(broken, '[{"username":');

      for (const file of [join(site.dir, 'missing.csv'), notArray, broken]) {
        const result = await run('users', 'import', file);
        expect(result.code).toBe(2);
        expect(result.stderr).toContain(file);
      }
      expect((await run('users', 'list')).stdout).not.toContain('solo');
    });

    it('refuses a --limit out of range as a usage error', async () => {
      for (const limit of ['0', '-3', 'many', '10001']) expect((await run('users', 'list', '--limit', limit)).code).toBe(2);
    });
  });

  describe('policy', () => {
    it('says the shipped default policy is valid, with exit 0', async () => {
      const result = await run('policy', 'check', DEFAULT_POLICY);

      expect(result).toEqual({ code: 0, stdout: `${DEFAULT_POLICY}: valid\n`, stderr: '' });
    });

    it('reports every problem of a broken policy as FILE:LINE:COL, with exit 1', async () => {
      const file = join(site.dir, 'broken-policy.yaml');
      await writeFile(file, 'version: 1\norganisationName: [not, text]\nbogusKey: true\n');

      const result = await run('policy', 'check', file);

      expect(result.code).toBe(1);
      const problems = lines(result.stdout);
      expect(problems.length).toBeGreaterThanOrEqual(3);
      for (const problem of problems) expect(problem).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+ `));
      expect(problems).toContain(`${file}:3:1 bogusKey: unknown key 'bogusKey'; expected one of: ${Object.keys(policySchema.shape).join(', ')}`);
      expect(problems.some((problem) => problem.startsWith(`${file}:2:`) && problem.includes('organisationName'))).toBe(true);
    });

    it('reports YAML syntax errors with their line and column, with exit 1', async () => {
      const file = join(site.dir, 'syntax.yaml');
      await writeFile(file, 'version: 1\n  organisationName: : x\n');

      const result = await run('policy', 'check', file);

      expect(result.code).toBe(1);
      for (const problem of lines(result.stdout)) expect(problem).toMatch(/:\d+:\d+ YAML syntax error: /);
    });

    it('treats a policy file that does not exist as a usage error (exit 2)', async () => {
      const result = await run('policy', 'check', join(site.dir, 'nope.yaml'));

      expect(result.code).toBe(2);
      expect(result.stderr).toContain('cannot read');
    });

    it('shows the policy in force: the shipped default, or the configured file', async () => {
      const shown = await run('policy', 'show');
      expect(shown.code).toBe(0);
      const [header, ...body] = shown.stdout.split('\n');
      expect(header).toMatch(/^# policy in force, from .*policy\/default\.yaml$/);
      const defaults = parsePolicy(await readFile(DEFAULT_POLICY, 'utf8'), DEFAULT_POLICY);
      if (!defaults.ok) throw new Error('the default policy does not parse');
      expect(parseYaml(body.join('\n'))).toEqual(defaults.policy);

      const custom = join(site.dir, 'custom-policy.yaml');
      await writeFile(custom, (await readFile(DEFAULT_POLICY, 'utf8')).replace('organisationName: Latchkey', 'organisationName: Acme Corp'));
      const customShown = await cli({ ...site.env, LATCHKEY_POLICY_FILE: custom }, 'policy', 'show');
      expect(customShown.code).toBe(0);
      expect(customShown.stdout.split('\n')[0]).toBe(`# policy in force, from ${custom}`);
      expect((parseYaml(customShown.stdout) as { organisationName: string }).organisationName).toBe('Acme Corp');
    });

    it('refuses to run with a broken configured policy, naming FILE:LINE:COL, as a usage error', async () => {
      const broken = join(site.dir, 'broken-configured.yaml');
      await writeFile(broken, 'version: 2\n');

      const result = await cli({ ...site.env, LATCHKEY_POLICY_FILE: broken }, 'users', 'list');

      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(new RegExp(`${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1:\\d+ `));
    });
  });

  describe('audit', () => {
    it('verifies an intact log with exit 0 and finds a changed or deleted record with exit 1, naming it', async () => {
      expect((await run('users', 'add', 'mallory.target')).code).toBe(0);
      expect((await run('users', 'add', 'second.target')).code).toBe(0);
      const intact = await run('audit', 'verify');
      expect(intact.code).toBe(0);
      expect(intact.stdout).toMatch(/^audit log intact: \d+ events, head [0-9a-f]{64}\n$/);

      const store = await site.openStore();
      try {
        const db = kyselyOf(store);
        const rows = await db.selectFrom('audit_events').selectAll().orderBy('seq').execute();
        const target = rows[rows.length - 2];
        if (!target) throw new Error('too few audit records');

        // Someone rewrites who did it.
        await db.updateTable('audit_events').set({ actor_id: 'someone-else' }).where('seq', '=', target.seq).execute();
        const edited = await run('audit', 'verify');
        expect(edited.code).toBe(1);
        expect(edited.stdout).toBe(`audit log BROKEN at event #${target.seq}: record #${target.seq} was changed after it was written (${target.seq - 1} events verified before it)\n`);
        await db.updateTable('audit_events').set({ actor_id: target.actor_id }).where('seq', '=', target.seq).execute();
        expect((await run('audit', 'verify')).code).toBe(0);

        // Someone deletes the record.
        await db.deleteFrom('audit_events').where('seq', '=', target.seq).execute();
        const deleted = await run('audit', 'verify');
        expect(deleted.code).toBe(1);
        expect(deleted.stdout).toContain(`BROKEN at event #${target.seq + 1}`);
        await db.insertInto('audit_events').values(target).execute();
        expect((await run('audit', 'verify')).code).toBe(0);
      } finally {
        await store.close();
      }
    });

    it('exports events at or after --since as JSON Lines, and records the export', async () => {
      expect((await run('users', 'add', 'before.export')).code).toBe(0);
      await new Promise((resolvePause) => setTimeout(resolvePause, 20));
      const since = new Date();
      await new Promise((resolvePause) => setTimeout(resolvePause, 5));
      const after = (await run('users', 'add', 'after.export')).stdout.trim();

      const result = await run('audit', 'export', '--format', 'jsonl', '--since', since.toISOString());

      expect(result.code).toBe(0);
      const records = lines(result.stdout).map((line) => JSON.parse(line) as { seq: number; at: string; type: string; subject: string | null; hash: string });
      expect(records.map((record) => [record.type, record.subject])).toEqual([['account.created', after]]);
      for (const record of records) {
        expect(Date.parse(record.at)).toBeGreaterThanOrEqual(since.getTime());
        expect(record.hash).toMatch(/^[0-9a-f]{64}$/);
      }
      expect(result.stderr).toContain('exported 1 events');

      // The export itself is on the record, and the file form writes the same lines.
      const file = join(site.dir, 'export.jsonl');
      expect((await run('audit', 'export', '--since', since.toISOString(), '--output', file)).code).toBe(0);
      const written = lines(await readFile(file, 'utf8')).map((line) => JSON.parse(line) as { type: string; data: Record<string, unknown> });
      expect(written.map((record) => record.type)).toEqual(['account.created', 'audit.exported']);
      expect(written[1]?.data).toEqual({ count: 1, since: since.toISOString() });
    });

    it('refuses a --since that is not a time, and a format other than jsonl, as usage errors', async () => {
      const badSince = await run('audit', 'export', '--since', 'last tuesday');
      expect(badSince.code).toBe(2);
      expect(badSince.stderr).toContain("--since 'last tuesday' is not a date and time");
      expect((await run('audit', 'export', '--format', 'csv')).code).toBe(2);
    });
  });

  describe('outbox', () => {
    /** Signs a new person in over the HTTP API and registers an alternate email, which sends a code. */
    async function queueEmailCode(username: string, address: string): Promise<string> {
      const latchkey = await compose();
      try {
        const password = `${username} counts nine amber lanterns`;
        await latchkey.accounts.create({ username, password, email: `${username}@corp.test` }, { kind: 'cli', id: 'test' });
        const app = await buildHttpApp(latchkey, { logger: false });
        try {
          const signIn = await app.inject({ method: 'POST', url: '/api/me/sign-in', payload: { username, password } });
          const session = signIn.json<{ sessionToken: string }>().sessionToken;
          const added = await app.inject({ method: 'POST', url: '/api/me/methods', headers: { authorization: `Bearer ${session}` }, payload: { method: 'email_code', address } });
          expect(added.statusCode).toBe(201);
        } finally {
          await app.close();
        }
        const [message] = (await latchkey.adminQueries.outbox({ principal: cliPrincipal('test'), ip: 'local', userAgent: null }, { limit: 1000 })).filter((entry) => entry.to === address);
        return /\b(\d{8})\b/.exec(message?.text ?? '')?.[1] ?? 'no code queued';
      } finally {
        await latchkey.close();
      }
    }

    it('lists dev-outbox messages with their recipient, status, subject and text', async () => {
      const code = await queueEmailCode('nora', 'nora.home@example.org');

      const result = await run('outbox', 'list', '--limit', '1000');

      expect(result.code).toBe(0);
      const text = result.stdout;
      expect(text).toMatch(/^--- \S+ email to nora\.home@example\.org \[pending\] enrollment_code$/m);
      expect(text).toContain('Subject: Latchkey verification code');
      expect(text).toContain(`Your verification code is: ${code}`);
    });

    // Fails today: the store lists the outbox oldest first, so with more messages than --limit the
    // newest (the code a developer is waiting for) is cut off. Needs a newest-first listing in the store.
    it('shows the newest messages when there are more than --limit', async () => {
      await queueEmailCode('olga', 'olga.home@example.org');
      await queueEmailCode('paul', 'paul.home@example.org');

      const result = await run('outbox', 'list', '--limit', '1');

      expect(result.code).toBe(0);
      expect(result.stdout).toContain('to paul.home@example.org');
    });
  });

  describe('tokens', () => {
    it('creates a token, prints it once, never lists it, and revoking it shuts the admin API to it', async () => {
      const created = await run('tokens', 'create', '--name', 'siem-export', '--scope', 'audit:read');
      expect(created.code).toBe(0);
      expect(created.stdout).toMatch(/^lk_admin_[A-Za-z0-9_-]{43}\n$/);
      const token = created.stdout.trim();
      const id = /^token (\S+) \(audit:read\); it will not be shown again:$/m.exec(created.stderr)?.[1] ?? '';
      expect(id).not.toBe('');

      const listed = await run('tokens', 'list');
      expect(listed.code).toBe(0);
      expect(lines(listed.stdout)).toContain([id, 'siem-export', 'audit:read', 'active', 'never used'].join('\t'));
      expect(listed.stdout).not.toContain(token);
      expect(listed.stdout).not.toContain(token.slice('lk_admin_'.length, 20));

      const askApi = async (): Promise<number> => {
        const latchkey = await compose();
        const app = await buildHttpApp(latchkey, { logger: false });
        try {
          return (await app.inject({ method: 'GET', url: '/api/admin/audit?limit=1', headers: { authorization: `Bearer ${token}` } })).statusCode;
        } finally {
          await app.close();
          await latchkey.close();
        }
      };
      expect(await askApi()).toBe(200);
      expect(lines((await run('tokens', 'list')).stdout).find((line) => line.startsWith(id))).not.toContain('never used');

      const revoked = await run('tokens', 'revoke', id);
      expect(revoked).toMatchObject({ code: 0, stdout: `revoked ${id}\n` });
      expect(await askApi()).toBe(401);
      expect(lines((await run('tokens', 'list')).stdout).find((line) => line.startsWith(id))?.split('\t')[3]).toBe('revoked');

      const again = await run('tokens', 'revoke', id);
      expect(again).toMatchObject({ code: 1, stdout: `no live token ${id}\n` });
    });

    it('grants only the read scopes when none is named: write scopes must be asked for by name', async () => {
      const created = await run('tokens', 'create', '--name', 'reader');
      expect(created.code).toBe(0);
      const readScopes = ADMIN_SCOPES.filter((scope) => scope.endsWith(':read'));
      expect(readScopes.length).toBeGreaterThan(0);
      expect(readScopes.length).toBeLessThan(ADMIN_SCOPES.length);
      expect(created.stderr).toContain(`(${readScopes.join(' ')})`);
      const writer = await run('tokens', 'create', '--name', 'writer', '--scope', 'accounts:write');
      expect(writer.stderr).toContain('(accounts:write)');
    });

    it.each([
      ['an unknown scope', ['tokens', 'create', '--name', 'x', '--scope', 'audit:write'], /unknown scope audit:write/],
      ['no name', ['tokens', 'create', '--scope', 'audit:read'], /required option '--name <name>'/],
      ['a lifetime of zero days', ['tokens', 'create', '--name', 'x', '--ttl-days', '0'], /--ttl-days must be a whole number/],
    ])('refuses %s as a usage error', async (_label, args, message) => {
      const result = await run(...args);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).toBe('');
    });
  });

  describe('usage', () => {
    it.each([
      ['an unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
      ['an unknown option', ['users', 'list', '--colour'], /unknown option '--colour'/],
      ['a missing argument', ['users', 'add'], /missing required argument 'username'/],
      ['a group without its subcommand', ['tokens'], /Usage: latchkey tokens/],
    ])('answers %s with exit 2 and says what is wrong', async (_label, args, message) => {
      const result = await run(...args);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
    });

    it('prints help with exit 0', async () => {
      const result = await run('--help');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('Usage: latchkey');
      for (const command of ['serve', 'migrate', 'users', 'policy', 'audit', 'outbox', 'tokens']) expect(result.stdout).toContain(command);
    });

    it('refuses a bad configuration with exit 2, naming the key and the variable', async () => {
      const result = await cli({ ...site.env, LATCHKEY_PORT: 'eighty' }, 'users', 'list');
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/port \(LATCHKEY_PORT\): /);

      const missing = await cli({ LATCHKEY_CONFIG: join(site.dir, 'no-such-config.yaml') }, 'users', 'list');
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('cannot read the configuration file');
    });

    it('keeps each run’s exit code its own: a success after a failure exits 0', async () => {
      expect((await run('tokens', 'revoke', 'no-such-token')).code).toBe(1);
      expect((await run('users', 'list', '--limit', '1')).code).toBe(0);
      expect(process.exitCode ?? 0).toBe(0);
    });
  });
});

describe('the installed latchkey binary', () => {
  const node = (args: string[]): Promise<CliRun> =>
    new Promise((resolveRun) => {
      const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('LATCHKEY_')));
      execFile(process.execPath, [join(REPO, 'bin', 'latchkey.js'), ...args], { cwd: REPO, env, timeout: 30_000 }, (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolveRun({ code, stdout, stderr });
      });
    });

  it('prints its help and exits 0', async () => {
    const result = await node(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: latchkey');
  });

  it('checks the shipped policy and exits 0', async () => {
    const result = await node(['policy', 'check', 'policy/default.yaml']);
    expect(result).toMatchObject({ code: 0, stdout: 'policy/default.yaml: valid\n' });
  });

  it('exits 2 on an unknown command', async () => {
    const result = await node(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown command 'frobnicate'");
  });

  it('serves the API on the configured port until SIGTERM, then exits 0', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'latchkey-serve-'));
    const env = { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('LATCHKEY_'))), LATCHKEY_DATA_DIR: dataDir, LATCHKEY_PORT: '0', LATCHKEY_LOG_LEVEL: 'silent' };
    const child = spawn(process.execPath, [join(REPO, 'bin', 'latchkey.js'), 'serve'], { cwd: REPO, env, stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
    try {
      let stderr = '';
      const address = await new Promise<string>((resolveAddress, reject) => {
        const timer = setTimeout(() => reject(new Error(`the server did not start: ${stderr}`)), 20_000);
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString('utf8');
          const match = /Latchkey listening on (http:\/\/127\.0\.0\.1:\d+) \(sqlite; email via dev-outbox, sms via dev-outbox; policy /.exec(stderr);
          if (match?.[1]) {
            clearTimeout(timer);
            resolveAddress(match[1]);
          }
        });
        child.once('exit', () => reject(new Error(`the server exited: ${stderr}`)));
      });

      expect((await fetch(`${address}/healthz`)).status).toBe(200);
      expect(await (await fetch(`${address}/readyz`)).json()).toEqual({ status: 'ready', checks: { database: 'ok', directory: 'ok' } });
      expect(stderr).toContain('Created a new encryption key file');

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
