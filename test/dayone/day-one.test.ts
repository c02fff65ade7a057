import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harnessCliEnv, runLatchkey, type CliRun } from '../support/cli.ts';
import { auditEvents, call, createPerson, ENGINES, json, latestCode, messagesTo, oathtoolCode, type Harness, type Person } from '../support/harness.ts';
import { helpdeskToken, signInWithPass, startHelpdeskHarness, type Operator } from '../helpdesk/support.ts';

const HEADER = 'username,start_date,manager_email,personal_email';
const dayAfter = (from: Date, days: number): string => new Date(from.getTime() + days * 86_400_000).toISOString().slice(0, 10);
/** The pass, or the half of it, in a delivery message. */
const passIn = (text: string | undefined): string => /: ([0-9A-Z]{4}(?:-[0-9A-Z]{4}){1,3})\n/.exec(text ?? '')?.[1] ?? '';

describe.each(ENGINES)('day-one passes for new hires (%s)', (engine) => {
  let h: Harness;
  let operator: Pick<Operator, 'token'>;
  let nia: Person;
  let oli: Person;
  let startDate: string;

  beforeAll(async () => {
    h = await startHelpdeskHarness(engine);
    operator = await helpdeskToken(h);
    nia = await createPerson(h, 'nia');
    oli = await createPerson(h, 'oli');
    startDate = dayAfter(h.clock.now(), 2);
  });
  afterAll(async () => {
    await h.close();
  });

  it('refuses a file with bad rows, naming each line, and issues nothing', async () => {
    const csv = [
      HEADER,
      `nia,${startDate},boss@corp.test,nia@home.example`,
      `oli,${startDate},not-an-address,oli@home.example`,
      `nobody,${startDate},boss@corp.test,nobody@home.example`,
      `nia,${startDate},boss@corp.test,nia@home.example`,
      `oli,2026-02-30,boss@corp.test,oli@home.example`,
    ].join('\n');
    const response = await call(h, 'POST', '/api/admin/dayone/passes', { csv }, { token: operator.token });
    expect(response.statusCode).toBe(422);
    const body = json<{ code: string; errors: string[] }>(response);
    expect(body.code).toBe('dayone.invalid_rows');
    expect(body.errors).toEqual([
      'line 3: manager_email: must be an email address like name@example.org',
      'line 4: username: no enabled account has this username',
      'line 5: username: the same person as line 2',
      'line 6: start_date: is not a calendar date',
    ]);
    expect(await auditEvents(h, { types: ['tap.issued', 'dayone.batch_issued'] })).toEqual([]);
    expect(await messagesTo(h, 'boss@corp.test')).toEqual([]);
  });

  it('issues split passes valid from the start date; each half alone fails, both together sign in', async () => {
    const csv = [HEADER, `nia,${startDate},boss@corp.test,nia@home.example`, `oli,${startDate},boss@corp.test,oli@home.example`].join('\r\n');
    const response = await call(h, 'POST', '/api/admin/dayone/passes', { csv, delivery: 'split' }, { token: operator.token });
    expect(response.statusCode, response.body).toBe(200);
    const result = json<{ issued: { line: number; username: string; validFrom: string; deliveredTo: string[] }[] }>(response);
    expect(result.issued.map((item) => [item.line, item.username])).toEqual([[2, 'nia'], [3, 'oli']]);
    expect(result.issued[0]?.validFrom).toBe(`${startDate}T08:00:00.000Z`);

    const toManager = (await messagesTo(h, 'boss@corp.test')).find((message) => message.subject.includes('for nia'));
    const toNia = (await messagesTo(h, 'nia@home.example')).at(-1);
    expect(toManager?.subject).toContain('part 1 of 2');
    expect(toNia?.subject).toContain('part 2 of 2');
    const first = passIn(toManager?.text);
    const second = passIn(toNia?.text);
    expect(first).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    expect(second).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    // The operator never sees a pass: it only went by mail.
    expect(response.body).not.toContain(first);
    expect(response.body).not.toContain(second);

    // Before the start date the whole pass does nothing (valid-from, injected clock).
    expect((await signInWithPass(h, 'nia', `${first}-${second}`)).statusCode).toBe(401);
    h.clock.advance((Date.parse(`${startDate}T08:00:00Z`) - h.clock.now().getTime()) / 1000 + 60);

    expect((await signInWithPass(h, 'nia', first)).statusCode).toBe(401);
    expect((await signInWithPass(h, 'nia', second)).statusCode).toBe(401);
    expect((await signInWithPass(h, 'nia', `${second}${first}`)).statusCode).toBe(401);
    const signedIn = await signInWithPass(h, 'nia', `${first} ${second}`);
    expect(signedIn.statusCode, signedIn.body).toBe(200);
    const session = json<{ sessionToken: string; registration: { required: number; missing: number } }>(signedIn);
    expect(session.registration).toEqual({ required: 2, missing: 2 });

    // Forced registration: anything but registering is refused until the minimum is met.
    const refused = await call(h, 'DELETE', '/api/me/methods/6f1c2b8e-0000-4000-8000-000000000000', undefined, { token: session.sessionToken });
    expect(refused.statusCode).toBe(403);
    expect(json(refused)).toMatchObject({ code: 'registration.required', missing: 2, detail: 'Register 2 more recovery methods before doing anything else.' });
    expect((await call(h, 'GET', '/api/me/methods', undefined, { token: session.sessionToken })).statusCode).toBe(200);

    const email = json<{ enrollment: { id: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'email_code', address: 'nia@home.example' }, { token: session.sessionToken }));
    expect((await call(h, 'POST', `/api/me/methods/${email.enrollment.id}/verify`, { code: await latestCode(h, 'nia@home.example') }, { token: session.sessionToken })).statusCode).toBe(200);
    const stillRefused = await call(h, 'DELETE', '/api/me/methods/6f1c2b8e-0000-4000-8000-000000000000', undefined, { token: session.sessionToken });
    expect(json(stillRefused)).toMatchObject({ code: 'registration.required', missing: 1 });
    const totp = json<{ enrollment: { id: string }; shownOnce: { secret: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'totp' }, { token: session.sessionToken }));
    expect((await call(h, 'POST', `/api/me/methods/${totp.enrollment.id}/verify`, { code: oathtoolCode(totp.shownOnce.secret, h.clock) }, { token: session.sessionToken })).statusCode).toBe(200);
    const allowed = await call(h, 'DELETE', '/api/me/methods/6f1c2b8e-0000-4000-8000-000000000000', undefined, { token: session.sessionToken });
    expect(json(allowed)['code']).toBe('enrollment.not_found');

    const methods = json<{ methods: { method: string }[]; missing: number }>(await call(h, 'GET', '/api/me/methods', undefined, { token: session.sessionToken }));
    expect(methods.missing).toBe(0);
    expect(methods.methods.map((method) => method.method)).not.toContain('temporary_access_pass');
  });

  it('audits the batch, each pass, its use and each refusal', async () => {
    expect(await auditEvents(h, { types: ['dayone.batch_issued'] })).toHaveLength(1);
    const issued = await auditEvents(h, { types: ['tap.issued'] });
    expect(issued.map((event) => [event.subject, event.data['kind'], event.data['delivery']])).toEqual([
      [nia.accountId, 'day_one', 'split'],
      [oli.accountId, 'day_one', 'split'],
    ]);
    const used = await auditEvents(h, { types: ['tap.used'] });
    expect(used.map((event) => event.subject)).toEqual([nia.accountId]);
    const refusals = await auditEvents(h, { types: ['registration.required'] });
    expect(refusals.map((event) => event.data['missing'])).toEqual([2, 1]);
    const failures = (await auditEvents(h, { types: ['sign_in.failed'] })).filter((event) => event.subject === nia.accountId);
    expect(failures[0]?.data).toMatchObject({ credential: 'temporary_access_pass', pass: 'not_yet_valid' });
  });
});

/** Runs `latchkey ARGS` in this process with exactly these LATCHKEY_* variables, capturing its output. */
const cli = (env: Readonly<Record<string, string>>, ...args: string[]): Promise<CliRun> => runLatchkey(env, args);

describe('latchkey tap issue --csv (sqlite, sharing the server’s data directory)', () => {
  let h: Harness;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    h = await startHelpdeskHarness('sqlite');
    await createPerson(h, 'pia');
    dir = await mkdtemp(join(tmpdir(), 'latchkey-dayone-'));
    env = harnessCliEnv(h);
  });
  afterAll(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reports every bad row as FILE:line N and exits 1 without issuing', async () => {
    const file = join(dir, 'bad.csv');
    await writeFile(file, `${HEADER}\npia,${dayAfter(new Date(), 3)},boss@corp.test,\nghost,${dayAfter(new Date(), 3)},boss@corp.test,g@home.example\n`);
    const run = await cli(env, 'tap', 'issue', '--csv', file);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${file}:line 2: personal_email: is required`);
    expect(run.stderr).toContain(`${file}:line 3: username: no enabled account has this username`);
    expect(run.stderr).toContain('nothing was issued');
  });

  it('issues the passes by mail and prints who got what, never a pass', async () => {
    const file = join(dir, 'new-hires.csv');
    await writeFile(file, `${HEADER}\npia,${dayAfter(new Date(), 3)},boss@corp.test,pia@home.example\n`);
    const run = await cli(env, 'tap', 'issue', '--csv', file, '--delivery', 'manager');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^pia\tvalid \S+ to \S+\tsent to b\S*@corp\.test\n$/u);
    const mail = (await messagesTo(h, 'boss@corp.test')).at(-1);
    expect(passIn(mail?.text)).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
    expect(run.stdout).not.toContain(passIn(mail?.text));
    expect((await auditEvents(h, { types: ['tap.issued'] })).map((event) => event.actor.kind)).toEqual(['cli']);
  });
});
