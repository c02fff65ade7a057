import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Policy } from '../../src/core/policy/schema.ts';
import type { PolicySimulation } from '../../src/core/policy/paths/simulate.ts';
import type { AccountFinding } from '../../src/core/policy/paths/account-findings.ts';
import type { Latchkey } from '../../src/server/compose.ts';
import { auditEvents, call, composeSibling, createPerson, ENGINES, json, oathtoolCode, registerTotp, roomyLimits, signInFresh, startFlow, type Harness, type Person, startHarness } from '../support/harness.ts';
import { enrol } from './fixtures.ts';

/** Signs a directory account in to the admin console (password, then its authenticator app) and returns the session token. */
async function adminSession(h: Harness, person: Person): Promise<string> {
  const seed = await registerTotp(h, await signInFresh(h, person));
  h.clock.advance(30);
  const pending = await call(h, 'POST', '/api/admin/session', { username: person.username, password: person.password });
  expect(pending.statusCode, pending.body).toBe(202);
  const done = await call(h, 'POST', '/api/admin/session/second-factor', { pendingToken: json<{ pendingToken: string }>(pending).pendingToken, code: oathtoolCode(seed, h.clock) });
  expect(done.statusCode, done.body).toBe(200);
  return json<{ sessionToken: string }>(done).sessionToken;
}

async function put(h: Harness, url: string, body: unknown, token: string): Promise<LightMyRequestResponse> {
  return h.app.inject({ method: 'PUT', url, remoteAddress: '127.0.0.1', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, payload: JSON.stringify(body) });
}

describe.each(ENGINES)('policy governance on %s', (engine) => {
  let h: Harness;
  let writer: string;
  let reader: string;
  let seededText: string;
  let twoToThreeGates: string;
  let second: Latchkey;
  let helpdeskSession: string;
  let auditorSession: string;
  const notices: string[] = [];

  /** The seeded file with `edit` applied: only the edited lines differ from version 1. */
  const edited = (edit: (policy: Policy) => void): string => {
    const data = parse(seededText) as Policy;
    edit(data);
    return stringify(data);
  };

  beforeAll(async () => {
    h = await startHarness({ engine, policy: [roomyLimits, (policy) => void (policy.adminRoles = { security_admin: [], helpdesk: ['helpdesk'], auditor: ['auditors'] })] });
    seededText = await readFile(join(h.dataDir, 'policy.yaml'), 'utf8');
    twoToThreeGates = edited((policy) => {
      policy.tiers.standard.gatesRequired = 3;
      policy.tiers.standard.minEnrolledMethods = 3;
    });
    const alice = await createPerson(h, 'alice', { department: 'Sales' });
    const bob = await createPerson(h, 'bob', { department: 'Sales' });
    const carol = await createPerson(h, 'carol', { department: 'Engineering' });
    const dave = await createPerson(h, 'dave', { department: 'Engineering' });
    const erin = await createPerson(h, 'erin', { department: 'Operations', groups: ['ops'] });
    await enrol(h, alice, { email: 'alice.home@example.org', totp: true });
    h.clock.advance(30);
    await enrol(h, bob, { email: 'bob.home@example.org', totp: true, recoveryCodes: true });
    h.clock.advance(30);
    await enrol(h, carol, { email: 'family@example.org', totp: true });
    await enrol(h, dave, { email: 'family@example.org' });
    await enrol(h, erin, { email: 'erin.home@example.org' });
    h.clock.advance(30);
    helpdeskSession = await adminSession(h, await createPerson(h, 'harry', { department: 'IT', groups: ['helpdesk'] }));
    auditorSession = await adminSession(h, await createPerson(h, 'ada', { department: 'IT', groups: ['auditors'] }));
    writer = (await h.latchkey.adminTokens.create({ name: 'policy admin', scopes: ['policy:read', 'policy:write'] }, { kind: 'cli', id: 'test' })).token;
    // An auditor's token: every read permission, no write.
    reader = (await h.latchkey.adminTokens.create({ name: 'auditor', scopes: ['policy:read', 'audit:read', 'accounts:read'] }, { kind: 'cli', id: 'test' })).token;
    second = await composeSibling(h, { notice: (message) => notices.push(message) }, { ...h.latchkey.config, policyRefresh: { pollIntervalMs: 100 } });
    second.policyRefresher.start();
  }, 120_000);

  afterAll(async () => {
    await second?.close();
    await h?.close();
  });

  it('seeds version 1 from the policy file, audited, and serves it with no validation messages', async () => {
    const response = await call(h, 'GET', '/api/admin/policy', undefined, { token: reader });
    expect(response.statusCode, response.body).toBe(200);
    expect(json(response)).toMatchObject({ version: { version: 1, source: 'file', actor: { kind: 'system', id: 'policy-seed' } }, text: seededText, valid: true, messages: [] });
    const seeded = await auditEvents(h, { types: ['policy.published'] });
    expect(seeded.map((event) => event.data['version'])).toEqual([1]);
  });

  it('lists the paths of the policy in force over the API', async () => {
    const response = await call(h, 'GET', '/api/admin/policy/paths', undefined, { token: reader });
    const body = json<{ version: number; tiers: { tier: string; paths: { methods: string[] }[] }[]; findingCount: number }>(response);
    expect(body.version).toBe(1);
    expect(body.tiers.map((tier) => `${tier.tier}:${tier.paths.length}`)).toEqual(['standard:9', 'privileged:1', 'break_glass:0']);
  });

  it('finds one alternate email registered on two accounts, without revealing it', async () => {
    const response = await call(h, 'GET', '/api/admin/policy/findings', undefined, { token: reader });
    const { findings } = json<{ findings: AccountFinding[] }>(response);
    expect(findings.map((finding) => `${finding.code} ${finding.accounts.map((account) => account.username).join(',')}`)).toEqual(['account.shared_channel carol,dave']);
    expect(response.body).not.toContain('family@example.org');
    const [queried] = await auditEvents(h, { types: ['admin.policy_queried'] });
    expect(queried).toMatchObject({ actor: { kind: 'admin_token' }, data: { view: 'findings', version: 1, count: 1 } });
  });

  it('simulates two gates becoming three: exactly alice and carol are stranded, with why', async () => {
    const response = await call(h, 'POST', '/api/admin/policy/simulate', { text: twoToThreeGates }, { token: writer });
    expect(response.statusCode, response.body).toBe(200);
    const { simulation } = json<{ simulation: PolicySimulation }>(response);
    expect(simulation.stranded).toEqual([
      { username: 'alice', department: 'Sales', tierBefore: 'standard', tier: 'standard', why: 'active email_code, totp; standard needs 3 gates over independent channels' },
      { username: 'carol', department: 'Engineering', tierBefore: 'standard', tier: 'standard', why: 'active email_code, totp; standard needs 3 gates over independent channels' },
    ]);
    expect(simulation.stillUnrecoverable.map((account) => `${account.username}: ${account.why}`)).toEqual([
      'ada: active totp; standard needs 3 gates over independent channels',
      'dave: active email_code; standard needs 3 gates over independent channels',
      'erin: active email_code; standard needs 3 gates over independent channels',
      'harry: active totp; standard needs 3 gates over independent channels',
    ]);
    expect(simulation).toMatchObject({ accounts: 7, recoverableBefore: 3, recoverableAfter: 1 });
    expect(simulation.byDepartment).toEqual([
      { key: 'Engineering', accounts: 2, recoverableBefore: 1, recoverableAfter: 0 },
      { key: 'IT', accounts: 2, recoverableBefore: 0, recoverableAfter: 0 },
      { key: 'Operations', accounts: 1, recoverableBefore: 0, recoverableAfter: 0 },
      { key: 'Sales', accounts: 2, recoverableBefore: 2, recoverableAfter: 1 },
    ]);
    expect(simulation.byTier[0]).toEqual({ key: 'standard', accounts: 7, recoverableBefore: 3, recoverableAfter: 1 });
    expect(simulation.pathsRemoved.map((path) => path.methods.join('+'))).toEqual(['webauthn+totp', 'webauthn+recovery_code', 'webauthn+email_code', 'webauthn+sms_code', 'totp+recovery_code', 'totp+email_code', 'totp+sms_code', 'recovery_code+email_code', 'recovery_code+sms_code']);
    expect(simulation.pathsAdded.map((path) => path.methods.join('+'))).toEqual([
      'webauthn+totp+recovery_code',
      'webauthn+totp+email_code',
      'webauthn+totp+sms_code',
      'webauthn+recovery_code+email_code',
      'webauthn+recovery_code+sms_code',
      'webauthn+email_code+sms_code',
      'totp+recovery_code+email_code', 'totp+recovery_code+sms_code', 'totp+email_code+sms_code', 'recovery_code+email_code+sms_code']);
  });

  it('refuses an invalid policy with FILE:LINE:COL messages in a 422, and stores nothing', async () => {
    const broken = seededText.replace(/gatesRequired: 2/, 'gatesRequired: 1');
    const line = seededText.slice(0, seededText.indexOf('gatesRequired: 2')).split('\n').length;
    for (const [method, url] of [
      ['POST', '/api/admin/policy/simulate'],
      ['PUT', '/api/admin/policy'],
    ] as const) {
      const response = method === 'PUT' ? await put(h, url, { text: broken, reason: 'try one gate' }, writer) : await call(h, 'POST', url, { text: broken }, { token: writer });
      expect(response.statusCode, response.body).toBe(422);
      const body = json<{ code: string; errors: string[] }>(response);
      expect(body.code).toBe('policy.invalid');
      expect(body.errors).toContainEqual(expect.stringMatching(new RegExp(`^policy\\.yaml:${line}:\\d+ tiers\\.standard\\.gatesRequired: a reset or unlock needs at least two gates`)));
    }
    expect((await h.latchkey.store.policyVersions.list({ limit: 10 })).map((version) => version.version)).toEqual([1]);
  });

  it('refuses a valid policy this server cannot honour (a GeoIP detector without a database), and stores nothing', async () => {
    const needsGeoIp = edited((policy) => void (policy.monitoring.new_country.enabled = true));
    const response = await put(h, '/api/admin/policy', { text: needsGeoIp, reason: 'watch countries' }, writer);
    expect(response.statusCode, response.body).toBe(422);
    expect(json<{ errors: string[] }>(response).errors).toEqual(['policy.yaml: the policy turns on monitoring.new_country but detectors.geoipDatabase is not configured']);
    expect(await h.latchkey.store.policyVersions.latestNumber()).toBe(1);
  });

  it('refuses a publish that strands accounts, with the simulation, unless forced', async () => {
    const refused = await put(h, '/api/admin/policy', { text: twoToThreeGates, reason: 'three gates for everyone' }, writer);
    expect(refused.statusCode, refused.body).toBe(409);
    const body = json<{ code: string; simulation: PolicySimulation }>(refused);
    expect(body.code).toBe('policy.would_strand');
    expect(body.simulation.stranded.map((account) => account.username)).toEqual(['alice', 'carol']);
    expect(await h.latchkey.store.policyVersions.latestNumber()).toBe(1);
  });

  it('lets neither a helpdesk nor an auditor session, nor a read-only token, publish or simulate; each refusal is audited', async () => {
    for (const credential of [helpdeskSession, auditorSession, reader]) {
      for (const response of [
        await put(h, '/api/admin/policy', { text: twoToThreeGates, reason: 'trying', force: true }, credential),
        await call(h, 'POST', '/api/admin/policy/simulate', { text: twoToThreeGates }, { token: credential }),
      ]) {
        expect(response.statusCode, response.body).toBe(403);
        expect(json<{ code: string }>(response).code).toBe('auth.forbidden');
      }
    }
    // The helpdesk may not even read the policy; an auditor may.
    expect((await call(h, 'GET', '/api/admin/policy', undefined, { token: helpdeskSession })).statusCode).toBe(403);
    expect((await call(h, 'GET', '/api/admin/policy/versions', undefined, { token: auditorSession })).statusCode).toBe(200);
    expect(await h.latchkey.store.policyVersions.latestNumber()).toBe(1);
    const denied = await auditEvents(h, { types: ['admin.access_denied'] });
    expect(denied.filter((event) => String(event.data['route']).startsWith('/api/admin/policy'))).toHaveLength(7);
  });

  it('publishes with force: stored with its diff, audited, in force at once here and within seconds on a second instance', async () => {
    const started = Date.now();
    const response = await put(h, '/api/admin/policy', { text: twoToThreeGates, reason: 'three gates for everyone', force: true }, writer);
    expect(response.statusCode, response.body).toBe(200);
    const body = json<{ version: { version: number; linesAdded: number; linesRemoved: number; diff: string; actor: { kind: string } } }>(response);
    expect(body.version).toMatchObject({ version: 2, linesAdded: 2, linesRemoved: 2, actor: { kind: 'admin_token' } });
    expect(body.version.diff).toContain('-    gatesRequired: 2\n+    gatesRequired: 3\n');
    expect(body.version.diff).toContain('-    minEnrolledMethods: 2\n+    minEnrolledMethods: 3\n');

    // This instance: every reader of the policy sees version 2 now, the recovery engine included.
    expect(h.latchkey.deps.policy().tiers.standard.gatesRequired).toBe(3);
    const flow = await startFlow(h, 'bob');
    expect(flow.body.flow.gatesRequired).toBe(3);

    // The second instance polls the same database.
    await vi.waitFor(() => expect(second.deps.policy().tiers.standard.gatesRequired).toBe(3), { timeout: 5_000, interval: 20 });
    const lagMs = Date.now() - started;
    expect(second.policies.currentVersion().version).toBe(2);
    expect(notices).toContain('Policy version 2 is now in force.');
    process.stdout.write(`[policy-paths ${engine}] second instance applied version 2 ${lagMs} ms after the publish request began\n`);

    const [published] = await auditEvents(h, { types: ['policy.published'] }).then((events) => events.filter((event) => event.data['version'] === 2));
    expect(published).toMatchObject({ actor: { kind: 'admin_token' }, outcome: 'success' });
    expect(published?.data).toMatchObject({ version: 2, previous_version: 1, source: 'api', reason: 'three gates for everyone', lines_added: 2, lines_removed: 2, forced: true, stranded: 2, diff_truncated: false });
    expect(String(published?.data['diff'])).toContain('+    gatesRequired: 3');
  });

  it('keeps the history with diff stats, and the full diff and text per version', async () => {
    const history = json<{ versions: { version: number; reason: string; source: string; linesAdded: number }[] }>(await call(h, 'GET', '/api/admin/policy/versions', undefined, { token: reader }));
    expect(history.versions.map((version) => `${version.version} ${version.source} +${version.linesAdded} ${version.reason}`)).toEqual([
      '2 api +2 three gates for everyone',
      `1 file +0 seeded from ${join(h.dataDir, 'policy.yaml')}`,
    ]);
    const two = json<{ version: { diff: string }; text: string }>(await call(h, 'GET', '/api/admin/policy/versions/2', undefined, { token: reader }));
    expect(two.text).toBe(twoToThreeGates);
    expect(two.version.diff.startsWith('@@ -')).toBe(true);
    const missing = await call(h, 'GET', '/api/admin/policy/versions/9', undefined, { token: reader });
    expect(missing.statusCode).toBe(404);
    expect(json<{ code: string }>(missing).code).toBe('policy.version_not_found');
    const unchanged = await put(h, '/api/admin/policy', { text: twoToThreeGates, reason: 'again' }, writer);
    expect(json<{ code: string }>(unchanged).code).toBe('policy.unchanged');
  });

  it('finds a privileged account with only weak methods once a policy makes its group privileged', async () => {
    const opsPrivileged = edited((policy) => {
      policy.tiers.standard.gatesRequired = 3;
      policy.tiers.standard.minEnrolledMethods = 3;
      policy.tierGroups.privileged = [...policy.tierGroups.privileged, 'ops'];
    });
    const response = await put(h, '/api/admin/policy', { text: opsPrivileged, reason: 'operations staff are administrators' }, writer);
    expect(response.statusCode, response.body).toBe(200);
    const simulation = json<{ simulation: PolicySimulation }>(response).simulation;
    expect(simulation.stillUnrecoverable.find((account) => account.username === 'erin')).toMatchObject({ tierBefore: 'standard', tier: 'privileged', why: 'active email_code (none allowed for privileged); privileged needs 2 gates over independent channels' });
    const { findings } = json<{ findings: AccountFinding[] }>(await call(h, 'GET', '/api/admin/policy/findings', undefined, { token: reader }));
    expect(findings.map((finding) => `${finding.severity} ${finding.code} ${finding.accounts.map((account) => account.username).join(',')}`)).toEqual([
      'high account.privileged_weak_methods_only erin',
      'warning account.shared_channel carol,dave',
    ]);
  });

  it('reports methods due for re-confirmation by the lifecycle interval', async () => {
    h.clock.advance(181 * 86_400);
    try {
      const findings = await h.latchkey.policies.accountFindings();
      const due = findings.filter((finding) => finding.code === 'account.method_not_reconfirmed');
      expect(due.map((finding) => `${finding.accounts[0]?.username} ${finding.methods.join(',')} ${finding.severity}`).sort()).toEqual([
        'ada totp info',
        'alice email_code info',
        'alice totp info',
        'bob email_code info',
        'bob recovery_code info',
        'bob totp info',
        'carol email_code info',
        'carol totp info',
        'dave email_code info',
        'erin email_code info',
        'harry totp info',
      ]);
    } finally {
      h.clock.advance(-181 * 86_400);
    }
  });

  // Several instances share a database only on PostgreSQL; two SQLite connections in one thread
  // cannot wait for each other's write lock (better-sqlite3 blocks), so the race runs there alone.
  it.runIf(engine === 'postgres')('lets exactly one of two instances publishing at the same moment take the next version', async () => {
    const actor = { kind: 'cli' as const, id: 'race' };
    const texts = [0, 1].map((n) =>
      edited((policy) => {
        policy.tiers.standard.gatesRequired = 3;
        policy.tiers.standard.minEnrolledMethods = 3;
        policy.tierGroups.privileged = [...policy.tierGroups.privileged, 'ops'];
        policy.contextWords = [...policy.contextWords, `race${n}`];
      }),
    );
    const results = await Promise.allSettled([
      h.latchkey.policies.publish({ text: texts[0] ?? '', name: 'a.yaml', reason: 'race a', actor, source: 'cli', force: false }),
      second.policies.publish({ text: texts[1] ?? '', name: 'b.yaml', reason: 'race b', actor, source: 'cli', force: false }),
    ]);
    const won = results.filter((result) => result.status === 'fulfilled');
    const lost = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost.map((result) => (result.reason as { code?: string }).code)).toEqual(['policy.conflict']);
    expect(await h.latchkey.store.policyVersions.latestNumber()).toBe(4);
  });

  it('keeps the published version over a restart, and says the file on disk differs', async () => {
    const restartNotices: string[] = [];
    const restarted = await composeSibling(h, { notice: (message) => restartNotices.push(message) });
    try {
      expect(restarted.policies.currentVersion().version).toBe(engine === 'postgres' ? 4 : 3);
      expect(restarted.deps.policy().tierGroups.privileged).toContain('ops');
      expect(restartNotices).toContainEqual(expect.stringContaining(`The policy file ${join(h.dataDir, 'policy.yaml')} differs from policy version ${engine === 'postgres' ? 4 : 3} in force`));
    } finally {
      await restarted.close();
    }
  });
});
