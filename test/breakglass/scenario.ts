import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allMessages, auditEvents, call, json, messagesTo, type Harness } from '../support/harness.ts';
import { createCheckpointVerifier, parsePublicKeys } from '../../src/adapters/audit-evidence/signing-key.ts';
import { verifyDrillEvidence } from '../../src/core/breakglass/evidence.ts';
import type { CustodianShare } from '../../src/core/breakglass/custody.ts';
import type { BreakGlassActor } from '../../src/core/breakglass/service.ts';
import type { AccountId } from '../../src/core/account/ids.ts';
import { isDomainError } from '../../src/core/errors.ts';

/**
 * What a break-glass suite needs from the directory under test: a break-glass account, a way to
 * check a password that does not go through Latchkey where one exists (ldapwhoami on slapd), and an
 * administrator's out-of-band password change.
 */
export interface DirectoryDriver {
  readonly name: string;
  start(): Promise<Harness>;
  /** Creates an account in the break-glass group; returns its username, id and initial password. */
  addBreakGlassAccount(name: string): Promise<{ username: string; accountId: AccountId; password: string }>;
  /** Creates an ordinary account (not break-glass). */
  addOrdinaryAccount(name: string): Promise<{ username: string }>;
  checkPassword(username: string, password: string): Promise<boolean>;
  /** Changes the password the way a directory administrator would, outside Latchkey. */
  changePasswordOutOfBand(username: string, accountId: AccountId, password: string): Promise<void>;
  /** Adds the account to another group outside Latchkey, or null when this directory cannot (built-in). */
  addToGroupOutOfBand: ((username: string, group: string) => Promise<void>) | null;
  stop(): Promise<void>;
}

/** Security admins configured outside the directory (server configuration `securityAdmins.emails`): every opening is mailed to each. */
export const SECURITY_ADMIN_ENV = { LATCHKEY_SECURITY_ADMINS__EMAILS: 'sec1@corp.test,sec2@corp.test' };

export const CLI: BreakGlassActor = { kind: 'cli', id: 'operator', ip: null, userAgent: null };

export async function refusal(work: Promise<unknown>): Promise<{ code: string; detail: string }> {
  try {
    await work;
  } catch (error) {
    if (isDomainError(error)) return { code: error.code, detail: error.detail };
    throw error;
  }
  throw new Error('expected a refusal');
}

const codes = (shares: readonly CustodianShare[], ...numbers: number[]): string[] => numbers.map((number) => shares.find((share) => share.number === number)?.code ?? '');

/** Every secret a test saw must be absent from the audit log, the alerts and the outbox. */
async function assertNowhereAtRest(h: Harness, secrets: readonly string[]): Promise<void> {
  const audit = JSON.stringify(await auditEvents(h));
  const alerts = JSON.stringify(await h.latchkey.store.alerts.list({ limit: 500 }));
  const outbox = JSON.stringify(await allMessages(h));
  for (const secret of secrets) {
    const compact = secret.replaceAll('-', '');
    for (const where of [audit, alerts, outbox]) {
      expect(where.includes(secret)).toBe(false);
      expect(where.includes(compact)).toBe(false);
    }
  }
}

/** The whole life of a break-glass account, against one directory, on one database engine. */
export function breakGlassLifecycle(driver: DirectoryDriver): void {
  describe(`break-glass custody against ${driver.name}`, () => {
    let h: Harness;
    let bg: { username: string; accountId: AccountId; password: string };
    let shares: CustodianShare[] = [];
    let sealId = '';
    const seen: string[] = [];
    const alertsOf = async (detectorId: string) => h.latchkey.store.alerts.list({ detectorId, limit: 100 });

    beforeAll(async () => {
      h = await driver.start();
      bg = await driver.addBreakGlassAccount('bg1');
    });
    afterAll(async () => {
      await h?.close();
      await driver.stop();
    });

    it('refuses to seal an account that is not break-glass, and a custody plan one person could open alone', async () => {
      const ordinary = await driver.addOrdinaryAccount('plain');
      expect(await refusal(h.latchkey.breakGlass.service.seal(ordinary.username, ['alice', 'bob'], 2, CLI))).toMatchObject({ code: 'breakglass.not_break_glass' });
      expect(await refusal(h.latchkey.breakGlass.service.seal(bg.username, ['alice', 'bob'], 1, CLI))).toMatchObject({ code: 'breakglass.invalid_custody' });
      expect(await h.latchkey.store.breakGlass.liveSeal(bg.accountId)).toBeNull();
    });

    it('seals: a new random password is in the directory, split 2 of 3, and no copy is kept', async () => {
      const sealed = await h.latchkey.breakGlass.service.seal(bg.username, ['alice', 'bob', 'carol'], 2, CLI);
      shares = sealed.shares;
      sealId = sealed.seal.id;
      seen.push(...shares.map((share) => share.code));
      expect(shares.map((share) => share.custodian)).toEqual(['alice', 'bob', 'carol']);
      expect(await driver.checkPassword(bg.username, bg.password)).toBe(false);
      const stored = await h.latchkey.store.breakGlass.liveSeal(bg.accountId);
      expect(stored).toMatchObject({ id: sealId, status: 'sealed', threshold: 2, custodians: ['alice', 'bob', 'carol'], pendingShares: null });
      expect(stored?.directoryPasswordChangedAt).toBeInstanceOf(Date);
      const [event] = await auditEvents(h, { types: ['breakglass.sealed'] });
      expect(event).toMatchObject({ subject: bg.accountId, tier: 'break_glass', outcome: 'success', actor: { kind: 'cli', id: 'operator' }, data: { seal_id: sealId, custodians: 'alice bob carol', threshold: 2, shares: 3 } });
      expect(await refusal(h.latchkey.breakGlass.service.seal(bg.username, ['dave', 'erin'], 2, CLI))).toMatchObject({ code: 'breakglass.already_sealed' });
    });

    it('refuses M−1 shares (audited, nothing revealed, no alert), then opens with M shares and alerts critically', async () => {
      const one = await refusal(h.latchkey.breakGlass.service.open(bg.username, codes(shares, 2), 'datacenter outage', CLI));
      expect(one).toEqual({ code: 'breakglass.shares_refused', detail: '1 of the 2 shares this seal needs were given' });
      expect(await alertsOf('break_glass_open')).toEqual([]);
      expect((await auditEvents(h, { types: ['breakglass.open_refused'] })).map((event) => event.data)).toEqual([{ seal_id: sealId, purpose: 'open', shares_given: 1, problem: '1 of the 2 shares this seal needs were given' }]);

      const opened = await h.latchkey.breakGlass.service.open(bg.username, codes(shares, 3, 1), 'datacenter outage, SSO down', CLI);
      seen.push(opened.password);
      expect(opened.sharesFrom).toEqual(['alice', 'carol']);
      expect(await driver.checkPassword(bg.username, opened.password)).toBe(true);
      const [alert] = await alertsOf('break_glass_open');
      expect(alert).toMatchObject({ severity: 'critical', status: 'open', subject: bg.accountId });
      expect(alert?.summary).toContain('datacenter outage, SSO down');
      const [event] = await auditEvents(h, { types: ['breakglass.opened'] });
      expect(event?.data).toMatchObject({ seal_id: sealId, reason_text: 'datacenter outage, SSO down', shares_from: 'alice carol', channel: 'cli' });
      for (const admin of ['sec1@corp.test', 'sec2@corp.test']) {
        const notices = await messagesTo(h, admin);
        expect(notices.map((message) => [message.subject, message.purpose])).toEqual([[`Break-glass account ${bg.username} was opened`, 'security_alert']]);
        expect(notices[0]?.text).toContain('Reason given: datacenter outage, SSO down');
      }
      expect(await refusal(h.latchkey.breakGlass.service.open(bg.username, codes(shares, 1, 2), 'again', CLI))).toMatchObject({ code: 'breakglass.wrong_state' });

      // Before the window ends the watch leaves it open; after it, the worker re-seals with a new password.
      expect(await h.latchkey.breakGlass.watch.runOnce()).toMatchObject({ resealed: 0 });
      h.clock.advance(61 * 60);
      expect(await h.latchkey.breakGlass.watch.runOnce()).toMatchObject({ resealed: 1 });
      expect(await driver.checkPassword(bg.username, opened.password)).toBe(false);
      const resealed = await h.latchkey.store.breakGlass.liveSeal(bg.accountId);
      expect(resealed).toMatchObject({ status: 'sealed', replaces: sealId });
      expect(resealed?.pendingShares).toEqual(expect.any(String));
      const [event2] = await auditEvents(h, { types: ['breakglass.resealed'] });
      expect(event2).toMatchObject({ actor: { kind: 'system', id: 'breakglass-watch' }, data: { replaces: sealId, trigger: 'emergency_window', shares_pending: true } });
      const [pending] = await alertsOf('break_glass_shares_pending');
      expect(pending?.summary).toContain(`latchkey breakglass shares ${resealed?.id ?? ''}`);

      // The new shares are released once, through an authenticated command; the old ones are dead.
      const released = await h.latchkey.breakGlass.service.releaseShares(resealed?.id ?? '', CLI);
      shares = released.shares;
      sealId = resealed?.id ?? '';
      seen.push(...shares.map((share) => share.code));
      expect(await refusal(h.latchkey.breakGlass.service.releaseShares(sealId, CLI))).toMatchObject({ code: 'breakglass.wrong_state' });
      expect((await h.latchkey.store.breakGlass.getSeal(sealId))?.pendingShares).toBeNull();
      expect((await auditEvents(h, { types: ['breakglass.shares_released'] })).map((event) => [event.actor.kind, event.data['seal_id'], event.data['custodians']])).toEqual([['cli', sealId, 'alice bob carol']]);
      const oldShares = await refusal(h.latchkey.breakGlass.service.open(bg.username, [seen[0] ?? '', seen[1] ?? ''], 'old shares', CLI));
      expect(oldShares).toMatchObject({ code: 'breakglass.shares_refused', detail: expect.stringContaining('belongs to another seal') });
    });

    it('drills: proves the shares against the directory without showing the password, re-seals, and signs evidence', async () => {
      const drilled = await h.latchkey.breakGlass.service.drill(bg.username, codes(shares, 2, 3), CLI);
      expect(drilled.evidence.record).toMatchObject({ result: 'passed', bind: 'valid', sealId, sharesFrom: ['bob', 'carol'], account: { id: bg.accountId, username: bg.username } });
      expect(JSON.stringify(drilled)).not.toMatch(/"password"/);
      const stored = await h.latchkey.breakGlass.service.drillEvidence(drilled.evidence.record.drillId);
      const verifier = createCheckpointVerifier(parsePublicKeys([{ name: 'audit public-key', text: h.latchkey.evidence.signingKey.publicKeyPem }]));
      expect(verifyDrillEvidence(stored, verifier)).toBe('valid');
      expect(verifyDrillEvidence({ ...stored, record: { ...stored.record, bind: 'invalid' } }, verifier)).toBe('invalid');
      expect(drilled.seal).toMatchObject({ replaces: sealId, status: 'sealed' });
      expect(drilled.seal?.lastDrillAt).toBeInstanceOf(Date);
      const [event] = await auditEvents(h, { types: ['breakglass.drilled'] });
      expect(event?.data).toMatchObject({ drill_id: drilled.evidence.record.drillId, result: 'passed', bind: 'valid', new_seal_id: drilled.seal?.id ?? '' });
      // The drilled shares opened the old seal only.
      expect(await refusal(h.latchkey.breakGlass.service.drill(bg.username, codes(shares, 1, 2), CLI))).toMatchObject({ code: 'breakglass.shares_refused' });
      shares = drilled.shares;
      sealId = drilled.seal?.id ?? '';
      seen.push(...shares.map((share) => share.code));
      const rows = await h.latchkey.breakGlass.service.status();
      expect(rows.find((row) => row.username === bg.username)).toMatchObject({ status: 'sealed', sealId, custodians: ['alice', 'bob', 'carol'], drillOverdue: false, sharesPending: false });
    });

    it('raises an overdue drill once, when the interval has passed', async () => {
      h.clock.advance(91 * 86_400);
      expect(await h.latchkey.breakGlass.watch.runOnce()).toMatchObject({ overdue: 1, mismatches: 0 });
      expect(await h.latchkey.breakGlass.watch.runOnce()).toMatchObject({ overdue: 0 });
      const overdue = await alertsOf('break_glass_drill_overdue');
      expect(overdue.map((alert) => [alert.severity, alert.occurrences])).toEqual([['high', 1]]);
      expect((await h.latchkey.breakGlass.service.status()).find((row) => row.username === bg.username)?.drillOverdue).toBe(true);
    });

    it('the watch detects an out-of-band password change (audited and alerted once)', async () => {
      await driver.changePasswordOutOfBand(bg.username, bg.accountId, 'an administrator typed this one 42!');
      const outcome = await h.latchkey.breakGlass.watch.runOnce();
      expect(outcome.mismatches).toBe(1);
      const [event] = await auditEvents(h, { types: ['breakglass.watch_mismatch'] });
      expect(event).toMatchObject({ subject: bg.accountId, outcome: 'failure', reason: 'breakglass.password_changed', data: { seal_id: sealId, kinds: 'password_changed' } });
      const [alert] = await alertsOf('break_glass_watch');
      expect(alert).toMatchObject({ severity: 'critical', subject: bg.accountId });
      expect(await h.latchkey.breakGlass.watch.runOnce()).toMatchObject({ mismatches: 0 });
      expect(await auditEvents(h, { types: ['breakglass.watch_mismatch'] })).toHaveLength(1);
    });

    it.runIf(driver.addToGroupOutOfBand !== null)('the watch detects a group membership change', async () => {
      await driver.addToGroupOutOfBand?.(bg.username, 'tier0');
      expect(await h.latchkey.breakGlass.watch.runOnce()).toMatchObject({ mismatches: 1 });
      const events = await auditEvents(h, { types: ['breakglass.watch_mismatch'] });
      expect(events.at(-1)?.data).toMatchObject({ kinds: 'groups_changed' });
    });

    it('opens from the console: shares one request at a time from different operators, guarded by breakglass:operate', async () => {
      // The watch flagged the out-of-band change; an operator re-seals to take custody back.
      const resealed = await h.latchkey.breakGlass.service.reseal(bg.username, CLI);
      shares = resealed.shares;
      seen.push(...shares.map((share) => share.code));
      const tokens = await Promise.all(['ops-alice', 'ops-bob', 'reader'].map((name) => h.latchkey.adminTokens.create({ name, scopes: name === 'reader' ? ['alerts:read'] : ['breakglass:operate'] }, { kind: 'cli', id: 'test' })));
      const [alice, bob, reader] = tokens.map((token) => token.token);
      expect((await call(h, 'POST', '/api/admin/breakglass/openings', { account: bg.username, reason: 'console test' }, { token: reader ?? '' })).statusCode).toBe(403);
      const started = await call(h, 'POST', '/api/admin/breakglass/openings', { account: bg.username, reason: 'SSO outage, console' }, { token: alice ?? '' });
      expect(started.statusCode, started.body).toBe(201);
      const openingId = json<{ opening: { id: string } }>(started).opening.id;
      const url = `/api/admin/breakglass/openings/${openingId}/shares`;
      const first = await call(h, 'POST', url, { share: codes(shares, 1)[0] }, { token: alice ?? '' });
      expect(first.statusCode, first.body).toBe(200);
      expect(json(first)).toEqual({ opening: expect.objectContaining({ received: 1, threshold: 2, sharesFrom: ['alice'], status: 'collecting' }) });
      const sameOperator = await call(h, 'POST', url, { share: codes(shares, 2)[0] }, { token: alice ?? '' });
      expect([sameOperator.statusCode, json<{ code: string }>(sameOperator).code]).toEqual([422, 'breakglass.shares_refused']);
      const malformed = await call(h, 'POST', url, { share: 42 }, { token: bob ?? '' });
      expect(malformed.statusCode).toBe(400);
      const second = await call(h, 'POST', url, { share: codes(shares, 2)[0] }, { token: bob ?? '' });
      expect(second.statusCode, second.body).toBe(200);
      expect(second.headers['cache-control']).toBe('no-store');
      const body = json<{ password: string; shownOnce: boolean; opening: { status: string } }>(second);
      seen.push(body.password);
      expect(body.opening.status).toBe('completed');
      expect(await driver.checkPassword(bg.username, body.password)).toBe(true);
      expect((await call(h, 'POST', url, { share: codes(shares, 3)[0] }, { token: reader ?? '' })).statusCode).toBe(403);
      expect(json<{ code: string }>(await call(h, 'POST', url, { share: codes(shares, 3)[0] }, { token: alice ?? '' })).code).toBe('breakglass.wrong_state');
      const opening = await h.latchkey.store.breakGlass.getOpening(openingId);
      expect(opening?.sharesCiphertext).toBeNull();
      const received = await auditEvents(h, { types: ['breakglass.share_received'] });
      expect(received.map((event) => [event.actor.kind, event.data['custodian'], event.data['received']])).toEqual([
        ['admin_token', 'alice', 1],
        ['admin_token', 'bob', 2],
      ]);
      expect((await alertsOf('break_glass_open')).length).toBe(2);
    });

    it('never stores or records a share or a password: audit log, alerts and outbox are clean', async () => {
      expect(seen.length).toBeGreaterThan(10);
      await assertNowhereAtRest(h, seen);
    });
  });
}
