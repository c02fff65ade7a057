import type { AuditRecord } from '../audit/events.ts';
import type { RecoveryRiskCheck, RiskRefusal } from '../ports/recovery-risk.ts';
import type { PendingFinding, Store } from '../ports/store.ts';
import type { Clock } from '../ports/system.ts';
import type { Finding } from './finding.ts';
import type { FindingSink } from './finding-sink.ts';
import { detectorsFor } from './detectors/catalog.ts';
import type { Detector, DetectorContext, RiskFlag } from './detectors/detector.ts';
import { networkOf } from './detectors/network.ts';
import type { MonitoringPolicy } from './detectors/settings.ts';

/** The state row that holds the runner's own risk flags, beside one row per detector. */
const FLAGS_STATE = 'runner.flags';

type Flags = Record<string, { untilMs: number; detectorId: string }>;

export interface DetectorRunnerOptions {
  readonly store: Store;
  readonly sink: FindingSink;
  readonly clock: Clock;
  readonly monitoring: () => MonitoringPolicy;
  readonly context: DetectorContext;
  /** Audit records judged per commit. */
  readonly batchSize?: number;
  /** How long a runner may hand on a leased finding before another runner may take it over. */
  readonly leaseSeconds?: number;
}

export interface RunOutcome {
  /** Audit records judged and committed in this call. */
  readonly judged: number;
  /** Findings handed to the sink in this call. */
  readonly handedOn: number;
}

/**
 * Feeds the audit log to the detectors in seq order and hands their findings to the FindingSink.
 *
 * Durability: after each batch the runner commits, in one transaction, the new cursor, every
 * detector's state and the batch's findings (as pending findings), then hands the pending findings
 * on and deletes each one the sink accepted. So a restart resumes exactly where the last commit
 * left off, with the detectors' windows and memories as they were: no record is judged twice and
 * none is skipped, and a finding committed but not yet handed on is handed on after the restart. A
 * crash between the sink accepting a finding and its deletion hands that finding on once more
 * (at least once; the alert service folds it into the same alert by dedupe key).
 *
 * Several instances: the commit is a compare-and-set on a version, so when two runners judge the
 * same batch only one commits; the other reloads and carries on from there.
 *
 * Real time: the runner is also the RecoveryRiskCheck. Detectors flag addresses and networks while
 * they stay over a threshold (repeated_failures per IP, reset_spray); a start from a flagged one, or
 * from a deny-listed address, is refused when the policy says so. The flags are in memory, refreshed
 * by every batch and stored with the states, so they survive a restart too.
 */
export class DetectorRunner implements RecoveryRiskCheck {
  private readonly detectors: readonly Detector[];
  private states = new Map<string, unknown>();
  private flags: Flags = {};
  private version = -1;
  private cursor = 0;
  private running: Promise<RunOutcome> | null = null;

  constructor(private readonly options: DetectorRunnerOptions) {
    this.detectors = detectorsFor(options.monitoring());
  }

  /**
   * Loads the committed cursor, states and risk flags. Called once at start-up, so that an address
   * flagged before a restart is refused from the first request after it, not from the first poll.
   */
  async restore(): Promise<void> {
    await this.reload();
  }

  /** The seq of the last audit record judged and committed. */
  get position(): number {
    return this.cursor;
  }

  assessStart(ip: string, now: Date): RiskRefusal | null {
    const policy = this.options.monitoring();
    const nowMs = now.getTime();
    if (policy.unusual_network.enabled && policy.unusual_network.refuseDenyListed && this.options.context.denyList?.match(ip)) {
      return { detectorId: 'unusual_network', rule: 'deny_list' };
    }
    const byIp = this.flags[`ip:${ip}`];
    if (byIp && byIp.untilMs > nowMs && this.refuses(policy, byIp.detectorId)) return { detectorId: byIp.detectorId, rule: 'flagged_ip' };
    const network = networkOf(ip);
    const byNetwork = network === null ? undefined : this.flags[`network:${network}`];
    if (byNetwork && byNetwork.untilMs > nowMs && this.refuses(policy, byNetwork.detectorId)) return { detectorId: byNetwork.detectorId, rule: 'flagged_network' };
    return null;
  }

  private refuses(policy: MonitoringPolicy, detectorId: string): boolean {
    if (detectorId === 'repeated_failures') return policy.repeated_failures.enabled && policy.repeated_failures.refuseAtStart;
    if (detectorId === 'reset_spray') return policy.reset_spray.enabled && policy.reset_spray.refuseAtStart;
    return false;
  }

  /**
   * Judges every audit record after the cursor and hands the findings on; returns when caught up.
   * One run at a time per runner: a call during a run waits for that run.
   */
  async run(): Promise<RunOutcome> {
    if (this.running) return this.running;
    this.running = this.runAll().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async runAll(): Promise<RunOutcome> {
    const { store } = this.options;
    const batchSize = this.options.batchSize ?? 500;
    if (this.version !== (await store.monitorState.version())) await this.reload();
    let judged = 0;
    let handedOn = await this.handOn();
    for (;;) {
      const records = await store.audit.query({ afterSeq: this.cursor, limit: batchSize });
      if (records.length === 0) break;
      let committed: boolean;
      try {
        committed = await this.judge(records);
      } catch (error) {
        // The states in memory have seen records the database has not: start over from the commit.
        this.version = -1;
        throw error;
      }
      if (!committed) {
        await this.reload();
        continue;
      }
      judged += records.length;
      handedOn += await this.handOn();
      if (records.length < batchSize) break;
    }
    return { judged, handedOn };
  }

  /** Runs the detectors over one batch and commits; false when another runner committed first. */
  private async judge(records: readonly AuditRecord[]): Promise<boolean> {
    const { store, clock, context } = this.options;
    const pending: PendingFinding[] = [];
    const now = clock.now();
    for (const record of records) {
      for (const detector of this.detectors) {
        const state = this.stateOf(detector);
        const observation = detector.observe(state, record, context);
        observation.findings.forEach((finding, index) => {
          pending.push({ id: `${record.seq}:${detector.id}:${index}`, seq: record.seq, finding: JSON.stringify(finding), createdAt: now });
        });
        for (const flag of observation.flags) this.raiseFlag(flag);
      }
    }
    const lastSeq = records[records.length - 1]?.seq ?? this.cursor;
    const nowMs = now.getTime();
    for (const [key, flag] of Object.entries(this.flags)) if (flag.untilMs <= nowMs) delete this.flags[key];
    const states: Record<string, string> = { [FLAGS_STATE]: JSON.stringify(this.flags) };
    for (const detector of this.detectors) states[detector.id] = JSON.stringify(this.stateOf(detector));
    if (!(await store.monitorState.commit(this.version, lastSeq, states, pending, now))) return false;
    this.version += 1;
    this.cursor = lastSeq;
    return true;
  }

  private raiseFlag(flag: RiskFlag): void {
    const key = `${flag.scope}:${flag.value}`;
    const existing = this.flags[key];
    if (!existing || existing.untilMs < flag.untilMs) this.flags[key] = { untilMs: flag.untilMs, detectorId: flag.detectorId };
  }

  private stateOf(detector: Detector): unknown {
    let state = this.states.get(detector.id);
    if (state === undefined) {
      state = detector.initialState();
      this.states.set(detector.id, state);
    }
    return state;
  }

  /** Replaces everything in memory with the committed state (at start, and after losing a race). */
  private async reload(): Promise<void> {
    const snapshot = await this.options.store.monitorState.load();
    this.version = snapshot.version;
    this.cursor = snapshot.cursor;
    this.states = new Map();
    for (const detector of this.detectors) {
      const text = snapshot.states[detector.id];
      if (text !== undefined) this.states.set(detector.id, JSON.parse(text) as unknown);
    }
    const flags = snapshot.states[FLAGS_STATE];
    this.flags = flags === undefined ? {} : (JSON.parse(flags) as Flags);
  }

  /** Hands committed findings to the sink in seq order; stops at the first the sink refuses. */
  private async handOn(): Promise<number> {
    const { store, sink, clock } = this.options;
    let count = 0;
    for (;;) {
      const now = clock.now();
      const batch = await store.monitorState.claimPending(now, new Date(now.getTime() + (this.options.leaseSeconds ?? 60) * 1000), 50);
      if (batch.length === 0) return count;
      for (const pending of batch) {
        // A sink failure propagates: the finding stays pending, its lease runs out, and it is handed on again.
        await sink.raise(parseFinding(pending.finding));
        await store.monitorState.removePending(pending.id);
        count += 1;
      }
    }
  }
}

/** A stored finding back to its in-memory form (`at` travels as an ISO string). */
export function parseFinding(text: string): Finding {
  const parsed = JSON.parse(text) as Omit<Finding, 'at'> & { at: string };
  return { ...parsed, at: new Date(parsed.at) };
}
