import type { AuditEventInput } from '../../audit/events.ts';
import { DomainError } from '../../errors.ts';
import type { Directory } from '../../ports/directory.ts';
import { DuplicateError, type Store } from '../../ports/store.ts';
import type { Clock } from '../../ports/system.ts';
import { formatPolicyError, parsePolicy } from '../load.ts';
import type { Policy } from '../schema.ts';
import { boundedDiff, lineDiff, policyTextHash, type PolicyVersionRecord, type PolicyVersionSource } from '../versions.ts';
import { accountFindings, type AccountFinding } from './account-findings.ts';
import type { AccountFacts } from './account-recovery.ts';
import { recoveryPaths, type PolicyPaths } from './recovery-paths.ts';
import { simulatePolicy, type PolicySimulation } from './simulate.ts';

export interface PolicyServiceDeps {
  readonly store: Store;
  readonly clock: Clock;
  /** Looked up when accounts are needed: the directory is built after the policy it reads. */
  readonly directory: () => Directory;
  /**
   * What a policy would need that this server lacks (breachedCheck without `breachedPasswordApi`,
   * GeoIP detectors without a database), as messages naming the policy key. A policy with any is
   * refused at publish, and an instance that cannot honour a newer version keeps its current one.
   */
  readonly serverProblems: (policy: Policy, source: string) => readonly string[];
  readonly notice?: (message: string) => void;
}

export type PolicyActor = AuditEventInput['actor'];

/** Who asked to see account-level results over the admin API, for the `admin.policy_queried` event. */
export interface PolicyViewer {
  readonly actor: PolicyActor;
  readonly ip: string | null;
  readonly userAgent: string | null;
}

/** The outcome of validating a candidate policy text: the policy, or every problem as `FILE:LINE:COL path: message`. */
export type PolicyValidation = { readonly ok: true; readonly policy: Policy } | { readonly ok: false; readonly errors: readonly string[] };

export interface PublishInput {
  readonly text: string;
  /** The name errors are reported under (the file given to the CLI, or `policy.yaml` for the API). */
  readonly name: string;
  readonly reason: string;
  readonly actor: PolicyActor;
  readonly source: Exclude<PolicyVersionSource, 'file'>;
  /** Publish even when the simulation finds accounts that would lose every recovery path. */
  readonly force: boolean;
}

export interface PublishResult {
  readonly version: Omit<PolicyVersionRecord, 'text'>;
  readonly simulation: PolicySimulation;
}

/** The most of a diff an audit event carries; the version record keeps all of it. */
export const AUDIT_DIFF_MAX_CHARS = 2_000;

interface InForce {
  readonly record: PolicyVersionRecord;
  readonly policy: Policy;
}

/**
 * The policy in force and its published versions. The newest stored version is in force on every
 * instance: `refresh` (polled by the server) picks up a version another instance published, and
 * `publish` validates, simulates, stores and audits a new one in one transaction. A text that fails
 * validation is never stored. The policy file seeds version 1 on the first start; after that the
 * database wins, and `open` reports when the file on disk differs from the version in force.
 */
export class PolicyService {
  private inForce: InForce;

  private constructor(
    private readonly deps: PolicyServiceDeps,
    initial: InForce,
  ) {
    this.inForce = initial;
  }

  /**
   * Loads the newest version, seeding version 1 from the file when the database has none. Two
   * instances seeding at once end with one version 1 (the loser reads the winner's). Throws
   * PolicyInForceError when the version in force needs something this server is not configured for.
   */
  static async open(deps: PolicyServiceDeps, file: { readonly text: string; readonly source: string }): Promise<{ service: PolicyService; fileDiffers: boolean }> {
    let record: PolicyVersionRecord | null = await deps.store.policyVersions.latest();
    if (record === null) {
      const seed = versionRecord({ version: 1, text: file.text, previous: null, at: deps.clock.now(), actor: { kind: 'system', id: 'policy-seed' }, reason: `seeded from ${file.source}`, source: 'file' });
      try {
        await deps.store.transaction(async (tx) => {
          await tx.policyVersions.insert(seed);
          await tx.audit.append([publishedEvent(seed, null, false, 0)]);
        });
        record = seed;
      } catch (error) {
        if (!(error instanceof DuplicateError)) throw error;
        record = await deps.store.policyVersions.latest();
        if (record === null) throw error;
      }
    }
    const inForce: PolicyVersionRecord = record;
    const policy = parseStored(inForce);
    const problems = deps.serverProblems(policy, `policy version ${inForce.version}`);
    if (problems.length > 0) throw new PolicyInForceError(problems.join('\n'));
    return { service: new PolicyService(deps, { record: inForce, policy }), fileDiffers: inForce.hash !== policyTextHash(file.text) };
  }

  /** The policy in force on this instance. Synchronous: every request reads it. */
  current(): Policy {
    return this.inForce.policy;
  }

  currentVersion(): PolicyVersionRecord {
    return this.inForce.record;
  }

  /**
   * Applies the newest stored version if it is newer than the one in force; true when it changed.
   * One indexed read when nothing changed, so instances can poll it every few seconds.
   */
  async refresh(): Promise<boolean> {
    const newest = await this.deps.store.policyVersions.latestNumber();
    if (newest <= this.inForce.record.version) return false;
    const record = await this.deps.store.policyVersions.get(newest);
    if (record === null) return false;
    const parsed = parsePolicy(record.text, `policy version ${record.version}`);
    if (!parsed.ok) {
      this.deps.notice?.(`policy version ${record.version} does not validate on this instance and is not applied; version ${this.inForce.record.version} stays in force: ${parsed.errors.map(formatPolicyError).join('; ')}`);
      return false;
    }
    const problems = this.deps.serverProblems(parsed.policy, `policy version ${record.version}`);
    if (problems.length > 0) {
      this.deps.notice?.(`policy version ${record.version} is not applied on this instance; version ${this.inForce.record.version} stays in force: ${problems.join('; ')}`);
      return false;
    }
    if (record.version > this.inForce.record.version) this.inForce = { record, policy: parsed.policy };
    return true;
  }

  /** Validates a candidate text as a publish would: the schema (with FILE:LINE:COL positions), then what this server supports. */
  validate(text: string, name: string): PolicyValidation {
    const parsed = parsePolicy(text, name);
    if (!parsed.ok) return { ok: false, errors: parsed.errors.map(formatPolicyError) };
    const problems = this.deps.serverProblems(parsed.policy, name);
    return problems.length > 0 ? { ok: false, errors: problems } : { ok: true, policy: parsed.policy };
  }

  /** The recovery paths of the policy in force. */
  paths(): PolicyPaths {
    return recoveryPaths(this.current());
  }

  /** Every account the directory lists, with its registered methods. Reads the whole directory: for reports, not requests. */
  async accountFacts(): Promise<AccountFacts[]> {
    const facts: AccountFacts[] = [];
    for await (const account of this.deps.directory().listAccounts()) {
      facts.push({
        accountId: account.id,
        username: account.username,
        department: account.department,
        groups: account.groups,
        directoryPrivileged: account.directoryPrivileged,
        enabled: account.enabled,
        enrollments: await this.deps.store.enrollments.listForAccount(account.id),
      });
    }
    return facts;
  }

  /**
   * Findings about registered methods under the policy in force. They name accounts, so a `viewer`
   * (an admin over the API) is recorded as `admin.policy_queried` (LOG-1).
   */
  async accountFindings(viewer?: PolicyViewer): Promise<AccountFinding[]> {
    const findings = accountFindings(await this.accountFacts(), this.current(), this.deps.clock.now());
    if (viewer !== undefined) await this.recordQuery(viewer, 'findings', findings.length);
    return findings;
  }

  /** What a proposed policy would do to today's accounts; throws policy.invalid with every error when it does not validate. A `viewer` is audited as for findings. */
  async simulate(text: string, name: string, viewer?: PolicyViewer): Promise<PolicySimulation> {
    const proposed = this.validOrThrow(text, name);
    const simulation = simulatePolicy(this.current(), proposed, await this.accountFacts(), this.deps.clock.now());
    if (viewer !== undefined) await this.recordQuery(viewer, 'simulation', simulation.accounts);
    return simulation;
  }

  private async recordQuery(viewer: PolicyViewer, view: 'findings' | 'simulation', count: number): Promise<void> {
    await this.deps.store.audit.append([
      {
        type: 'admin.policy_queried',
        at: this.deps.clock.now(),
        actor: viewer.actor,
        subject: null,
        outcome: 'success',
        reason: null,
        ip: viewer.ip,
        userAgent: viewer.userAgent,
        department: null,
        tier: null,
        flowId: null,
        data: { view, version: this.inForce.record.version, count },
      },
    ]);
  }

  /**
   * Publishes a new version: validates it (policy.invalid), refuses an identical text
   * (policy.unchanged), simulates it and refuses when accounts would be stranded unless `force`
   * (policy.would_strand, with the simulation), then stores it with its diff and the
   * `policy.published` event in one transaction. A concurrent publish of the same number loses
   * with policy.conflict. SECURITY: the simulation runs against the version this instance has in
   * force; the insert is keyed on the next number, so a publish based on a stale version cannot
   * silently overwrite a newer one.
   */
  async publish(input: PublishInput): Promise<PublishResult> {
    await this.refresh();
    const proposed = this.validOrThrow(input.text, input.name);
    const previous = this.inForce.record;
    if (policyTextHash(input.text) === previous.hash) throw new DomainError('policy.unchanged', `The text is identical to version ${previous.version}, which is in force.`);
    const simulation = simulatePolicy(this.current(), proposed, await this.accountFacts(), this.deps.clock.now());
    if (simulation.stranded.length > 0 && !input.force) {
      throw new DomainError('policy.would_strand', `${simulation.stranded.length} ${simulation.stranded.length === 1 ? 'account' : 'accounts'} would have no way to recover under this policy.`, { simulation });
    }
    const record = versionRecord({ version: previous.version + 1, text: input.text, previous, at: this.deps.clock.now(), actor: input.actor, reason: input.reason, source: input.source });
    try {
      await this.deps.store.transaction(async (tx) => {
        await tx.policyVersions.insert(record);
        await tx.audit.append([publishedEvent(record, previous.version, input.force, simulation.stranded.length)]);
      });
    } catch (error) {
      if (error instanceof DuplicateError) throw new DomainError('policy.conflict', `Version ${record.version} was published by someone else meanwhile; review it and publish again.`);
      throw error;
    }
    if (record.version > this.inForce.record.version) this.inForce = { record, policy: proposed };
    const { text: _text, ...version } = record;
    return { version, simulation };
  }

  async history(options: { readonly beforeVersion?: number; readonly limit: number }): Promise<Omit<PolicyVersionRecord, 'text' | 'diff'>[]> {
    return this.deps.store.policyVersions.list(options);
  }

  async version(version: number): Promise<PolicyVersionRecord> {
    const record = await this.deps.store.policyVersions.get(version);
    if (record === null) throw new DomainError('policy.version_not_found', `There is no policy version ${version}.`);
    return record;
  }

  private validOrThrow(text: string, name: string): Policy {
    const validation = this.validate(text, name);
    if (!validation.ok) throw new DomainError('policy.invalid', `The policy has ${validation.errors.length} ${validation.errors.length === 1 ? 'problem' : 'problems'}.`, { errors: validation.errors });
    return validation.policy;
  }
}

/** The version in force needs something this server is not configured for (thrown at start). */
export class PolicyInForceError extends Error {
  override readonly name = 'PolicyInForceError';
}

function parseStored(record: PolicyVersionRecord): Policy {
  const parsed = parsePolicy(record.text, `policy version ${record.version}`);
  if (!parsed.ok) throw new PolicyInForceError(parsed.errors.map(formatPolicyError).join('\n'));
  return parsed.policy;
}

function versionRecord(input: { version: number; text: string; previous: PolicyVersionRecord | null; at: Date; actor: PolicyActor; reason: string; source: PolicyVersionSource }): PolicyVersionRecord {
  const diff = input.previous === null ? { text: '', linesAdded: 0, linesRemoved: 0 } : lineDiff(input.previous.text, input.text);
  return {
    version: input.version,
    text: input.text,
    hash: policyTextHash(input.text),
    createdAt: input.at,
    actorKind: input.actor.kind,
    actorId: input.actor.id,
    reason: input.reason,
    source: input.source,
    diff: diff.text,
    linesAdded: diff.linesAdded,
    linesRemoved: diff.linesRemoved,
  };
}

function publishedEvent(record: PolicyVersionRecord, previousVersion: number | null, forced: boolean, stranded: number): AuditEventInput {
  const diff = boundedDiff(record.diff, AUDIT_DIFF_MAX_CHARS);
  return {
    type: 'policy.published',
    at: record.createdAt,
    actor: { kind: record.actorKind, id: record.actorId },
    subject: null,
    outcome: 'success',
    reason: null,
    ip: null,
    userAgent: null,
    department: null,
    tier: null,
    flowId: null,
    data: {
      version: record.version,
      previous_version: previousVersion,
      hash: record.hash,
      source: record.source,
      reason: record.reason,
      lines_added: record.linesAdded,
      lines_removed: record.linesRemoved,
      diff: diff.text,
      diff_truncated: diff.truncated,
      forced,
      stranded,
    },
  };
}
