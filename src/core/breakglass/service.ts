import type { DirectoryAccount } from '../account/account.ts';
import type { AccountId } from '../account/ids.ts';
import { canonicalIdentifier } from '../account/identifier.ts';
import type { AppDeps } from '../app/deps.ts';
import type { CheckpointSigner } from '../audit/checkpoint.ts';
import type { AuditEventInput } from '../audit/events.ts';
import { DomainError } from '../errors.ts';
import type { Finding } from '../monitoring/finding.ts';
import type { FindingSink } from '../monitoring/finding-sink.ts';
import { oneLine } from '../monitoring/alerts/notification.ts';
import { enqueueMessage } from '../notifications/outbox.ts';
import { checkPassword } from '../policy/password-rules.ts';
import { resolveTier } from '../policy/tier.ts';
import type { Repositories } from '../ports/store.ts';
import { checkCustody, combineShares, generateBreakGlassPassword, splitPassword, type CustodianShare } from './custody.ts';
import { signDrillEvidence, type SignedDrillEvidence } from './evidence.ts';
import type { OpeningRecord, SealRecord } from './records.ts';
import { decodeShare } from './share-code.ts';
import { compareWithSeal, nextDrillDue, type WatchMismatch } from './watch.ts';

/** Who acts on a break-glass account: an operator at the CLI, a console token, or the watch worker. */
export interface BreakGlassActor {
  readonly kind: 'cli' | 'admin' | 'admin_token' | 'system';
  readonly id: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
}

export interface BreakGlassEvidenceSettings {
  readonly signer: CheckpointSigner;
  /** The name drill records are signed as (audit.instance). */
  readonly instance: string;
}

/** One line of `breakglass status`. */
export interface BreakGlassStatusRow {
  readonly username: string;
  readonly accountId: AccountId | null;
  readonly sealId: string | null;
  readonly status: SealRecord['status'] | 'unsealed';
  readonly custodians: readonly string[];
  readonly threshold: number | null;
  readonly sealedAt: Date | null;
  readonly lastDrillAt: Date | null;
  readonly nextDrillDue: Date | null;
  readonly drillOverdue: boolean;
  readonly resealDueAt: Date | null;
  readonly sharesPending: boolean;
  readonly watch: readonly string[];
}

/** What a console opening shows: progress, never a share. */
export interface OpeningView {
  readonly id: string;
  readonly sealId: string;
  readonly account: string;
  readonly status: OpeningRecord['status'];
  readonly threshold: number;
  readonly received: number;
  readonly sharesFrom: readonly string[];
  readonly expiresAt: string;
}

export interface WatchOutcome {
  readonly checked: number;
  readonly resealed: number;
  readonly mismatches: number;
  readonly overdue: number;
}

const SYSTEM_ACTOR: BreakGlassActor = { kind: 'system', id: 'breakglass-watch', ip: null, userAgent: null };
const DRILL_OVERDUE = 'drill_overdue';
const sharesContext = (sealId: string): string => `breakglass_shares:${sealId}`;
const openingContext = (openingId: string): string => `breakglass_opening:${openingId}`;
const actorLabel = (actor: BreakGlassActor): string => (actor.kind === 'system' ? 'worker' : `${actor.kind === 'admin_token' ? 'token' : actor.kind}:${actor.id ?? 'unknown'}`);

/**
 * Break-glass accounts as a first-class object: sealing (a random password written to the
 * directory and split among custodians, no copy kept), emergency opening with M of N shares,
 * re-sealing, drills with signed evidence, and the watch that compares the directory with each seal.
 *
 * SECURITY: the password exists in this process only between being generated or rebuilt and being
 * written, shown or checked; shares only between being split and being returned (or encrypted for a
 * worker re-seal, until an operator releases them). Neither ever reaches the audit log, an alert,
 * a log line or the database in clear.
 */
export class BreakGlassService {
  constructor(
    private readonly deps: AppDeps,
    private readonly findings: FindingSink,
    private readonly evidence: BreakGlassEvidenceSettings,
    /** Every security admin's address except the account's own (configured and by directory role); each is told of an opening directly, whatever the alert throttle does. */
    private readonly securityAdmins: (except: AccountId) => Promise<readonly string[]> = () => Promise.resolve([]),
  ) {}

  /** Seals an account that has no seal yet; returns the shares to hand out (once). */
  async seal(identifier: string, custodians: readonly string[], threshold: number, actor: BreakGlassActor): Promise<{ seal: SealRecord; shares: CustodianShare[] }> {
    const custody = checkCustody(custodians, threshold);
    if (!custody.ok) throw new DomainError('breakglass.invalid_custody', custody.problem);
    const account = await this.breakGlassAccount(identifier);
    const live = await this.deps.store.breakGlass.liveSeal(account.id);
    if (live) throw new DomainError('breakglass.already_sealed', `${account.username} is already sealed (seal ${live.id}); use reseal to replace it.`);
    return this.writeSeal(account, custody.custodians, threshold, null, actor, { trigger: 'initial', sharesPending: false, lastDrillAt: null });
  }

  /** Replaces the account's seal now (new password, new shares, same custodians unless given). */
  async reseal(identifier: string, actor: BreakGlassActor, custody?: { custodians: readonly string[]; threshold: number }): Promise<{ seal: SealRecord; shares: CustodianShare[] }> {
    const account = await this.breakGlassAccount(identifier);
    const previous = await this.liveSealOf(account);
    const plan = checkCustody(custody?.custodians ?? previous.custodians, custody?.threshold ?? previous.threshold);
    if (!plan.ok) throw new DomainError('breakglass.invalid_custody', plan.problem);
    return this.writeSeal(account, plan.custodians, custody?.threshold ?? previous.threshold, previous, actor, { trigger: 'manual', sharesPending: false, lastDrillAt: previous.lastDrillAt });
  }

  /**
   * Emergency access from the command line: rebuilds the password from the shares and returns it to
   * be shown once. A critical alert is raised before anything is revealed (no alert, no password).
   */
  async open(identifier: string, typedShares: readonly string[], reason: string, actor: BreakGlassActor): Promise<{ password: string; seal: SealRecord; sharesFrom: readonly string[] }> {
    const why = this.reasonOf(reason);
    const account = await this.breakGlassAccount(identifier);
    const seal = await this.sealedSealOf(account);
    const rebuilt = await this.rebuild(seal, account, typedShares, 'open', actor);
    const opened = await this.markOpened(seal, account, rebuilt.numbers, why, actor, { channel: 'cli', openingId: null }, null);
    return { password: rebuilt.password, seal: opened, sharesFrom: this.custodiansOf(seal, rebuilt.numbers) };
  }

  /** Starts a console opening: shares then arrive one request at a time from different operators. */
  async beginOpening(identifier: string, reason: string, actor: BreakGlassActor): Promise<OpeningView> {
    const why = this.reasonOf(reason);
    const account = await this.breakGlassAccount(identifier);
    const seal = await this.sealedSealOf(account);
    const { random, clock, cipher, store } = this.deps;
    const now = clock.now();
    const id = random.uuid();
    const opening: OpeningRecord = {
      id,
      sealId: seal.id,
      accountId: account.id,
      reason: why,
      createdBy: actorLabel(actor),
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.deps.policy().breakGlass.openingTtlMinutes * 60_000),
      status: 'collecting',
      sharesCiphertext: cipher.encrypt('[]', openingContext(id)),
      submitted: [],
      version: 0,
    };
    await store.breakGlass.insertOpening(opening);
    return this.openingView(opening, seal);
  }

  /**
   * Adds one share to a console opening. Each share must come from a different operator (token) and
   * carry a different share number; the one that completes the threshold gets the password, once.
   */
  async submitShare(openingId: string, typed: string, actor: BreakGlassActor): Promise<{ opening: OpeningView; password: string | null }> {
    const { store, clock, cipher } = this.deps;
    const opening = await store.breakGlass.getOpening(openingId);
    if (!opening) throw new DomainError('breakglass.not_found');
    const now = clock.now();
    if (opening.status === 'collecting' && opening.expiresAt.getTime() <= now.getTime()) {
      await store.breakGlass.updateOpening({ ...opening, status: 'expired', sharesCiphertext: null }, opening.version);
      throw new DomainError('breakglass.wrong_state', 'The opening expired; its shares were wiped. Start a new one.');
    }
    if (opening.status !== 'collecting') throw new DomainError('breakglass.wrong_state', `The opening is ${opening.status}.`);
    const seal = await store.breakGlass.getSeal(opening.sealId);
    const account = await this.deps.directory.getAccount(opening.accountId);
    if (!seal || seal.status !== 'sealed' || !account) throw new DomainError('breakglass.wrong_state', 'The seal this opening was for is no longer in force.');
    const by = actorLabel(actor);
    const decoded = decodeShare(typed);
    const problem = !decoded.ok
      ? decoded.problem
      : decoded.share.sealId !== seal.id
        ? 'the share belongs to another seal'
        : opening.submitted.some((entry) => entry.share === decoded.share.number)
          ? `share ${decoded.share.number} was already received`
          : opening.submitted.some((entry) => entry.by === by)
            ? 'this operator already gave a share: each share must come from a different custodian'
            : null;
    if (problem !== null || !decoded.ok) {
      await this.refuse(seal, account, 'open', opening.submitted.length + 1, problem ?? 'invalid share', actor);
      throw new DomainError('breakglass.shares_refused', problem ?? undefined);
    }
    const codes = [...(JSON.parse(cipher.decrypt(opening.sharesCiphertext ?? '', openingContext(opening.id))) as string[]), typed];
    const submitted = [...opening.submitted, { share: decoded.share.number, by }];
    const receivedEvent = this.event(actor, account, now, {
      type: 'breakglass.share_received',
      outcome: 'info',
      reason: null,
      data: { opening_id: opening.id, seal_id: seal.id, share_number: decoded.share.number, custodian: seal.custodians[decoded.share.number - 1] ?? null, received: submitted.length, threshold: seal.threshold },
    });
    if (submitted.length < seal.threshold) {
      const next: OpeningRecord = { ...opening, submitted, sharesCiphertext: cipher.encrypt(JSON.stringify(codes), openingContext(opening.id)) };
      await store.transaction(async (tx) => {
        if (!(await tx.breakGlass.updateOpening(next, opening.version))) throw new DomainError('breakglass.wrong_state', 'Another share arrived at the same moment; send this one again.');
        await tx.audit.append([receivedEvent]);
      });
      return { opening: this.openingView({ ...next, version: opening.version + 1 }, seal), password: null };
    }
    const rebuilt = await this.rebuild(seal, account, codes, 'open', actor);
    const completed: OpeningRecord = { ...opening, submitted, status: 'completed', sharesCiphertext: null };
    await this.markOpened(seal, account, rebuilt.numbers, opening.reason, actor, { channel: 'api', openingId: opening.id }, async (tx) => {
      if (!(await tx.breakGlass.updateOpening(completed, opening.version))) throw new DomainError('breakglass.wrong_state', 'Another share arrived at the same moment; send this one again.');
      return [receivedEvent];
    });
    return { opening: this.openingView(completed, seal), password: rebuilt.password };
  }

  /**
   * A drill: rebuilds the password without showing it, proves it with a bind, re-seals, and records
   * Ed25519-signed evidence. A failed bind is evidence too (signed, audited, alerted) and re-seals
   * nothing: what the directory holds is then unknown, and an operator must seal the account anew.
   */
  async drill(identifier: string, typedShares: readonly string[], actor: BreakGlassActor): Promise<{ evidence: SignedDrillEvidence; seal: SealRecord | null; shares: CustodianShare[] }> {
    const account = await this.breakGlassAccount(identifier);
    const seal = await this.sealedSealOf(account);
    const rebuilt = await this.rebuild(seal, account, typedShares, 'drill', actor);
    const { clock, random, directory } = this.deps;
    const verdict = await directory.verifyPassword(account.id, rebuilt.password);
    const at = clock.now();
    const drillId = random.uuid();
    const sharesFrom = this.custodiansOf(seal, rebuilt.numbers);
    const base = { kind: 'latchkey.breakglass.drill', version: 1, drillId, at: at.toISOString(), instance: this.evidence.instance, account: { id: account.id, username: account.username }, directory: directory.name, sealId: seal.id, threshold: seal.threshold, custodians: seal.custodians, sharesFrom, bind: verdict } as const;
    const drillWork = (evidence: SignedDrillEvidence, newSealId: string | null) => async (tx: Repositories): Promise<AuditEventInput[]> => {
      await tx.breakGlass.insertDrill({ id: drillId, sealId: seal.id, accountId: account.id, at, result: evidence.record.result, record: JSON.stringify(evidence.record), keyId: evidence.keyId, signature: evidence.signature });
      return [
        this.event(actor, account, at, {
          type: 'breakglass.drilled',
          outcome: evidence.record.result === 'passed' ? 'success' : 'failure',
          reason: evidence.record.result === 'passed' ? null : 'breakglass.drill_failed',
          data: { drill_id: drillId, seal_id: seal.id, new_seal_id: newSealId, result: evidence.record.result, bind: verdict, shares_from: sharesFrom.join(' '), key_id: evidence.keyId },
        }),
      ];
    };
    if (verdict !== 'valid') {
      const evidence = signDrillEvidence({ ...base, result: 'failed', newSealId: null }, this.evidence.signer);
      await this.raise({ detectorId: 'break_glass_drill_failed', severity: 'critical', dedupeKey: `break_glass_drill_failed:${seal.id}`, summary: `A drill of break-glass account ${account.username} failed: the directory answered ${verdict} to the sealed password`, account, observed: { seal_id: seal.id, drill_id: drillId, bind: verdict } });
      await this.deps.store.transaction(async (tx) => tx.audit.append(await drillWork(evidence, null)(tx)));
      return { evidence, seal: null, shares: [] };
    }
    const newSealId = random.uuid();
    const evidence = signDrillEvidence({ ...base, result: 'passed', newSealId }, this.evidence.signer);
    const resealed = await this.writeSeal(account, seal.custodians, seal.threshold, seal, actor, { trigger: 'drill', sharesPending: false, lastDrillAt: at, sealId: newSealId, extra: drillWork(evidence, newSealId) });
    return { evidence, seal: resealed.seal, shares: resealed.shares };
  }

  /** The signed record of a drill, as stored. */
  async drillEvidence(drillId: string): Promise<SignedDrillEvidence> {
    const drill = await this.deps.store.breakGlass.getDrill(drillId);
    if (!drill) throw new DomainError('breakglass.not_found');
    return { record: JSON.parse(drill.record) as SignedDrillEvidence['record'], keyId: drill.keyId, signature: drill.signature };
  }

  /**
   * Hands out the shares a worker made when it re-sealed on its own, exactly once: the ciphertext is
   * taken and wiped in the same transaction as the audit record of the release.
   */
  async releaseShares(sealId: string, actor: BreakGlassActor): Promise<{ seal: SealRecord; shares: CustodianShare[] }> {
    const { store, cipher, clock } = this.deps;
    const seal = await store.breakGlass.getSeal(sealId);
    if (!seal) throw new DomainError('breakglass.not_found');
    // Read before the transaction: the built-in directory reads the store, which a SQLite transaction holds.
    const account = await this.deps.directory.getAccount(seal.accountId);
    return store.transaction(async (tx) => {
      const ciphertext = await tx.breakGlass.takePendingShares(sealId);
      if (ciphertext === null) throw new DomainError('breakglass.wrong_state', 'No shares are waiting for this seal: they were released already, or the seal was made where its shares were shown.');
      const shares = JSON.parse(cipher.decrypt(ciphertext, sharesContext(sealId))) as CustodianShare[];
      await tx.audit.append([this.event(actor, account, clock.now(), { type: 'breakglass.shares_released', outcome: 'success', reason: null, data: { seal_id: seal.id, custodians: seal.custodians.join(' ') } }, seal.accountId)]);
      return { seal: { ...seal, pendingShares: null, version: seal.version + 1 }, shares };
    });
  }

  /** Every live seal, and every account the policy lists that has none. */
  async status(): Promise<BreakGlassStatusRow[]> {
    const policy = this.deps.policy();
    const now = this.deps.clock.now();
    const live = await this.deps.store.breakGlass.listLive();
    const rows: BreakGlassStatusRow[] = live.map((seal) => {
      const due = nextDrillDue(seal, policy.breakGlass.drillIntervalDays);
      return {
        username: seal.username,
        accountId: seal.accountId,
        sealId: seal.id,
        status: seal.status,
        custodians: seal.custodians,
        threshold: seal.threshold,
        sealedAt: seal.sealedAt,
        lastDrillAt: seal.lastDrillAt,
        nextDrillDue: due,
        drillOverdue: due.getTime() < now.getTime(),
        resealDueAt: seal.resealDueAt,
        sharesPending: seal.pendingShares !== null,
        watch: seal.watchState,
      };
    });
    const sealedNames = new Set(live.map((seal) => seal.username.toLowerCase()));
    for (const username of policy.breakGlass.accounts) {
      if (sealedNames.has(username.toLowerCase())) continue;
      rows.push({ username, accountId: null, sealId: null, status: 'unsealed', custodians: [], threshold: null, sealedAt: null, lastDrillAt: null, nextDrillDue: null, drillOverdue: false, resealDueAt: null, sharesPending: false, watch: [] });
    }
    return rows;
  }

  /**
   * One pass of the watch worker: re-seals accounts whose emergency window ended, raises overdue
   * drills, and compares each account in the directory with its seal. Each mismatch kind is audited
   * and alerted when it appears, not on every pass.
   */
  async runWatch(): Promise<WatchOutcome> {
    const policy = this.deps.policy();
    let resealed = 0;
    let mismatches = 0;
    let overdue = 0;
    const live = await this.deps.store.breakGlass.listLive();
    for (const seal of live) {
      const now = this.deps.clock.now();
      const account = await this.deps.directory.getAccount(seal.accountId);
      if (seal.status === 'opened' && seal.resealDueAt !== null && seal.resealDueAt.getTime() <= now.getTime() && account) {
        await this.resealAfterEmergency(seal, account);
        resealed += 1;
        continue;
      }
      const kinds = new Set(seal.watchState);
      const found = await this.observe(seal, account);
      const appeared = found.filter((mismatch) => !kinds.has(mismatch.kind));
      const due = nextDrillDue(seal, policy.breakGlass.drillIntervalDays);
      const isOverdue = due.getTime() < now.getTime();
      const next = new Set(found.map((mismatch) => mismatch.kind as string));
      if (isOverdue) next.add(DRILL_OVERDUE);
      if (isOverdue && !kinds.has(DRILL_OVERDUE)) {
        overdue += 1;
        await this.raise({
          detectorId: 'break_glass_drill_overdue',
          severity: 'high',
          dedupeKey: `break_glass_drill_overdue:${seal.accountId}`,
          summary: `The drill of break-glass account ${seal.username} is overdue since ${due.toISOString()}`,
          account,
          accountId: seal.accountId,
          observed: { seal_id: seal.id, last_drill_at: seal.lastDrillAt?.toISOString() ?? null, due_at: due.toISOString(), interval_days: policy.breakGlass.drillIntervalDays },
          baseline: `a drill every ${policy.breakGlass.drillIntervalDays} days`,
        });
      }
      if (appeared.length > 0) {
        mismatches += appeared.length;
        await this.raise({
          detectorId: 'break_glass_watch',
          severity: 'critical',
          dedupeKey: `break_glass_watch:${seal.id}`,
          summary: `Break-glass account ${seal.username} no longer matches its seal: ${appeared.map((mismatch) => mismatch.detail).join('; ')}`,
          account,
          accountId: seal.accountId,
          observed: { seal_id: seal.id, kinds: appeared.map((mismatch) => mismatch.kind).join(' ') },
          baseline: 'the account as it was sealed',
        });
      }
      const changed = next.size !== kinds.size || [...next].some((kind) => !kinds.has(kind));
      if (!changed) continue;
      await this.deps.store.transaction(async (tx) => {
        // Lost to a concurrent change (an opening, another instance's watch): the next pass decides again.
        if (!(await tx.breakGlass.updateSeal({ ...seal, watchState: [...next].sort() }, seal.version))) return;
        if (appeared.length > 0) {
          await tx.audit.append([
            this.event(SYSTEM_ACTOR, account, now, {
              type: 'breakglass.watch_mismatch',
              outcome: 'failure',
              reason: `breakglass.${appeared[0]?.kind ?? 'mismatch'}`,
              data: { seal_id: seal.id, kinds: appeared.map((mismatch) => mismatch.kind).join(' '), detail: appeared.map((mismatch) => mismatch.detail).join('; ').slice(0, 500) },
            }, seal.accountId),
          ]);
        }
      });
    }
    return { checked: live.length, resealed, mismatches, overdue };
  }

  private async observe(seal: SealRecord, account: DirectoryAccount | null): Promise<WatchMismatch[]> {
    if (!account) return compareWithSeal(seal, { exists: false, enabled: false, groups: [], passwordChangedAt: null });
    const passwordChangedAt = (await this.deps.directory.readPasswordChangedAt?.(seal.accountId)) ?? null;
    return compareWithSeal(seal, { exists: true, enabled: account.enabled, groups: account.groups, passwordChangedAt });
  }

  /**
   * The timed re-seal after an emergency window. No custodian is at hand, so the new shares are
   * encrypted with the instance key and kept on the new seal until an operator releases them with
   * `latchkey breakglass shares SEAL_ID` (once); until then an alert says they are waiting. Leaving
   * the shown password in force instead would be worse, and dropping the shares would lose the account.
   */
  private async resealAfterEmergency(seal: SealRecord, account: DirectoryAccount): Promise<void> {
    const { seal: resealed } = await this.writeSeal(account, seal.custodians, seal.threshold, seal, SYSTEM_ACTOR, { trigger: 'emergency_window', sharesPending: true, lastDrillAt: seal.lastDrillAt });
    await this.raise({
      detectorId: 'break_glass_shares_pending',
      severity: 'high',
      dedupeKey: `break_glass_shares_pending:${resealed.id}`,
      summary: `Break-glass account ${account.username} was re-sealed after its emergency window; hand the new shares to ${seal.custodians.join(', ')} with: latchkey breakglass shares ${resealed.id}`,
      account,
      observed: { seal_id: resealed.id, replaces: seal.id },
    });
  }

  /** Generates, writes and splits a new password, and records the seal (retiring `previous`) with its audit event. */
  private async writeSeal(
    account: DirectoryAccount,
    custodians: readonly string[],
    threshold: number,
    previous: SealRecord | null,
    actor: BreakGlassActor,
    options: { trigger: 'initial' | 'manual' | 'drill' | 'emergency_window'; sharesPending: boolean; lastDrillAt: Date | null; sealId?: string; extra?: (tx: Repositories) => Promise<AuditEventInput[]> },
  ): Promise<{ seal: SealRecord; shares: CustodianShare[] }> {
    const { store, directory, random, clock, secrets, cipher } = this.deps;
    let claimed = previous;
    if (previous) {
      // SECURITY: claim the old seal before the directory write, so two re-seals racing (two
      // instances' workers, a worker and an operator) cannot both write a password: the loser would
      // leave the directory holding a password whose shares were never recorded.
      if (!(await store.breakGlass.updateSeal(previous, previous.version))) throw new DomainError('breakglass.wrong_state', 'The seal changed meanwhile; look at breakglass status and try again.');
      claimed = { ...previous, version: previous.version + 1 };
    }
    const password = this.newPassword(account);
    const written = await directory.setPassword(account.id, password);
    if (!written.ok) throw new DomainError('breakglass.directory_refused', written.reason);
    const changedAt = (await directory.readPasswordChangedAt?.(account.id)) ?? null;
    const sealId = options.sealId ?? random.uuid();
    const shares = await splitPassword(password, sealId, custodians, threshold);
    const now = clock.now();
    const seal: SealRecord = {
      id: sealId,
      accountId: account.id,
      username: account.username,
      custodians,
      threshold,
      status: 'sealed',
      passwordMac: secrets.mac('breakglass_password', password),
      groups: account.groups,
      directoryPasswordChangedAt: changedAt,
      sealedAt: now,
      sealedBy: actorLabel(actor),
      replaces: previous?.id ?? null,
      openedAt: null,
      resealDueAt: null,
      lastDrillAt: options.lastDrillAt,
      pendingShares: options.sharesPending ? cipher.encrypt(JSON.stringify(shares), sharesContext(sealId)) : null,
      watchState: [],
      version: 0,
    };
    const data = {
      seal_id: sealId,
      custodians: custodians.join(' '),
      threshold,
      shares: shares.length,
      directory_password_changed_at: changedAt?.toISOString() ?? null,
    };
    await store.transaction(async (tx) => {
      if (claimed && !(await tx.breakGlass.updateSeal({ ...claimed, status: 'retired', pendingShares: null }, claimed.version))) {
        throw new DomainError('breakglass.wrong_state', 'The seal changed meanwhile; look at breakglass status and try again.');
      }
      await tx.breakGlass.insertSeal(seal);
      const extra = options.extra ? await options.extra(tx) : [];
      const event = previous
        ? this.event(actor, account, now, { type: 'breakglass.resealed', outcome: 'success', reason: null, data: { ...data, replaces: previous.id, trigger: options.trigger, shares_pending: options.sharesPending } })
        : this.event(actor, account, now, { type: 'breakglass.sealed', outcome: 'success', reason: null, data });
      await tx.audit.append([...extra, event]);
    });
    return { seal, shares };
  }

  private newPassword(account: DirectoryAccount): string {
    const policy = this.deps.policy();
    const rules = policy.tiers.privileged.password;
    const length = Math.min(Math.max(policy.breakGlass.passwordLength, rules.minLength), rules.maxLength);
    const context = { username: account.username, displayName: account.displayName, organisationName: policy.organisationName, contextWords: policy.contextWords };
    // A random password of this length practically always passes; a rare draw that happens to
    // contain a context word is simply drawn again.
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const password = generateBreakGlassPassword(this.deps.random, length);
      if (checkPassword(password, rules, context).ok) return password;
    }
    throw new DomainError('breakglass.directory_refused', 'No generated password passed the privileged password rules; check tiers.privileged.password and breakGlass.passwordLength.');
  }

  /** Rebuilds and recognises the password; every refusal is audited with which share failed and why. */
  private async rebuild(seal: SealRecord, account: DirectoryAccount, typed: readonly string[], purpose: 'open' | 'drill', actor: BreakGlassActor): Promise<{ password: string; numbers: readonly number[] }> {
    const combined = await combineShares(typed, seal.id, seal.threshold);
    const problem = !combined.ok ? combined.problem : this.deps.secrets.equal(this.deps.secrets.mac('breakglass_password', combined.password), seal.passwordMac) ? null : 'the shares check out but do not rebuild the sealed password';
    if (problem !== null || !combined.ok) {
      await this.refuse(seal, account, purpose, typed.length, problem ?? 'invalid shares', actor);
      throw new DomainError('breakglass.shares_refused', problem ?? undefined);
    }
    return { password: combined.password, numbers: combined.numbers };
  }

  private async refuse(seal: SealRecord, account: DirectoryAccount, purpose: 'open' | 'drill', given: number, problem: string, actor: BreakGlassActor): Promise<void> {
    await this.deps.store.audit.append([
      this.event(actor, account, this.deps.clock.now(), { type: 'breakglass.open_refused', outcome: 'failure', reason: 'breakglass.shares_refused', data: { seal_id: seal.id, purpose, shares_given: given, problem } }),
    ]);
  }

  private async markOpened(
    seal: SealRecord,
    account: DirectoryAccount,
    numbers: readonly number[],
    reason: string,
    actor: BreakGlassActor,
    via: { channel: 'cli' | 'api'; openingId: string | null },
    extra: ((tx: Repositories) => Promise<AuditEventInput[]>) | null,
  ): Promise<SealRecord> {
    const now = this.deps.clock.now();
    const resealDueAt = new Date(now.getTime() + this.deps.policy().breakGlass.emergencyWindowMinutes * 60_000);
    const sharesFrom = this.custodiansOf(seal, numbers);
    // SECURITY: the alert is raised before the password leaves this method: if it cannot be raised,
    // nobody gets the password, so an emergency opening is never silent.
    await this.raise({
      detectorId: 'break_glass_open',
      severity: 'critical',
      dedupeKey: `break_glass_open:${seal.id}`,
      summary: `Break-glass account ${account.username} was opened by ${actorLabel(actor)} with the shares of ${sharesFrom.join(', ')}: ${reason}`,
      account,
      ip: actor.ip,
      observed: { seal_id: seal.id, opened_by: actorLabel(actor), shares_from: sharesFrom.join(' '), reseal_due_at: resealDueAt.toISOString() },
    });
    const opened: SealRecord = { ...seal, status: 'opened', openedAt: now, resealDueAt };
    const recipients = await this.securityAdmins(account.id);
    const notice = {
      subject: `Break-glass account ${account.username} was opened`,
      text: [
        `The break-glass account ${account.username} was opened at ${now.toISOString()} by ${actorLabel(actor)}${actor.ip ? ` from ${actor.ip}` : ''}.`,
        `Reason given: ${reason}`,
        `Shares used: ${sharesFrom.join(', ')}.`,
        `The password shown stops working at ${resealDueAt.toISOString()}, when the account is re-sealed.`,
        'If you did not expect this, treat it as an incident.',
      ].join('\n'),
    };
    await this.deps.store.transaction(async (tx) => {
      if (!(await tx.breakGlass.updateSeal(opened, seal.version))) throw new DomainError('breakglass.wrong_state', 'The seal changed meanwhile (opened or re-sealed by someone else).');
      const before: AuditEventInput[] = extra ? [...(await extra(tx))] : [];
      // The notices are about the account, not activity of it: their outbox rows and events name no account.
      const messageAudit = { at: now, actor: { kind: actor.kind, id: actor.id }, subject: null, ip: actor.ip, userAgent: actor.userAgent, department: account.department, tier: 'break_glass' as const, flowId: null };
      for (const to of recipients) {
        before.push(await enqueueMessage(tx, this.deps, { channel: 'email', to, subject: notice.subject, text: notice.text, purpose: 'security_alert' }, null, now, messageAudit));
      }
      await tx.audit.append([
        ...before,
        this.event(actor, account, now, {
          type: 'breakglass.opened',
          outcome: 'success',
          reason: null,
          data: { seal_id: seal.id, reason_text: reason, shares_from: sharesFrom.join(' '), reseal_due_at: resealDueAt.toISOString(), channel: via.channel, opening_id: via.openingId },
        }),
      ]);
    });
    return { ...opened, version: seal.version + 1 };
  }

  private async raise(input: { detectorId: string; severity: Finding['severity']; dedupeKey: string; summary: string; account: DirectoryAccount | null; accountId?: AccountId; ip?: string | null; observed: Finding['observed']; baseline?: string }): Promise<void> {
    await this.findings.raise({
      detectorId: input.detectorId,
      severity: input.severity,
      dedupeKey: input.dedupeKey,
      summary: input.summary,
      subject: input.account?.id ?? input.accountId ?? null,
      ip: input.ip ?? null,
      department: input.account?.department ?? null,
      observed: input.observed,
      baseline: input.baseline ?? null,
      eventIds: [],
      at: this.deps.clock.now(),
    });
  }

  private event(actor: BreakGlassActor, account: DirectoryAccount | null, at: Date, event: Pick<AuditEventInput, 'type' | 'outcome' | 'reason' | 'data'>, accountId?: AccountId): AuditEventInput {
    return { ...event, at, actor: { kind: actor.kind, id: actor.id }, subject: account?.id ?? accountId ?? null, ip: actor.ip, userAgent: actor.userAgent, department: account?.department ?? null, tier: 'break_glass', flowId: null };
  }

  private custodiansOf(seal: SealRecord, numbers: readonly number[]): string[] {
    return numbers.map((number) => seal.custodians[number - 1] ?? `share ${number}`);
  }

  private reasonOf(reason: string): string {
    const why = oneLine(reason.trim(), 500).trim();
    if (why.length < 3) throw new DomainError('request.invalid', 'reason: say why the account is opened, in a few words.');
    return why;
  }

  private openingView(opening: OpeningRecord, seal: SealRecord): OpeningView {
    return {
      id: opening.id,
      sealId: seal.id,
      account: seal.username,
      status: opening.status,
      threshold: seal.threshold,
      received: opening.submitted.length,
      sharesFrom: this.custodiansOf(seal, opening.submitted.map((entry) => entry.share)),
      expiresAt: opening.expiresAt.toISOString(),
    };
  }

  /** The account behind an identifier, refused unless its live groups make it break-glass. */
  private async breakGlassAccount(identifier: string): Promise<DirectoryAccount> {
    const canonical = canonicalIdentifier(identifier);
    const lookup = canonical.ok ? await this.deps.directory.findByIdentifier(canonical.value) : ({ kind: 'none' } as const);
    if (lookup.kind !== 'one') throw new DomainError('breakglass.not_break_glass', `No single account matches '${identifier.slice(0, 64)}'.`);
    const account = lookup.account;
    // SECURITY: sealing writes a password nobody knows; on an ordinary account that locks its owner out.
    if (resolveTier(this.deps.policy(), account.groups, account.directoryPrivileged) !== 'break_glass') throw new DomainError('breakglass.not_break_glass');
    return account;
  }

  private async liveSealOf(account: DirectoryAccount): Promise<SealRecord> {
    const seal = await this.deps.store.breakGlass.liveSeal(account.id);
    if (!seal) throw new DomainError('breakglass.not_sealed');
    return seal;
  }

  private async sealedSealOf(account: DirectoryAccount): Promise<SealRecord> {
    const seal = await this.liveSealOf(account);
    if (seal.status !== 'sealed') {
      throw new DomainError('breakglass.wrong_state', `${account.username} is open since ${seal.openedAt?.toISOString() ?? 'earlier'}; it is re-sealed at ${seal.resealDueAt?.toISOString() ?? 'the end of the window'} (or now with: latchkey breakglass reseal ${account.username}).`);
    }
    return seal;
  }
}
