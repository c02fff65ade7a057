import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Gauge, type Registry } from 'prom-client';
import type { AuditEventInput, AuditEventType, AuditRecord } from '../../core/audit/events.ts';
import type { AuditExportCursor, AuditExportStatus, Store } from '../../core/ports/store.ts';
import type { Clock } from '../../core/ports/system.ts';
import { BatchRejectedError, type AuditExportSink } from '../../adapters/audit-export/sink.ts';

export interface AuditExporterOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly sinks: readonly AuditExportSink[];
  readonly pollIntervalMs: number;
  readonly batchSize: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  readonly leaseSeconds: number;
  /** Names this instance in lease rows; unique per process by default. */
  readonly owner?: string;
}

/** What one pass over a sink came to. */
export type SinkPassOutcome = 'caught_up' | 'waiting' | 'leased_elsewhere' | 'stopped' | 'failed' | 'lost_lease';

export interface SinkLag {
  readonly sink: string;
  readonly kind: AuditExportSink['kind'];
  readonly deliveredSeq: number;
  /** Events appended but not yet acknowledged by this sink. */
  readonly lag: number;
  readonly status: AuditExportStatus;
  readonly lastError: string | null;
}

interface SinkState {
  failures: number;
  retryAt: number;
  timer: NodeJS.Timeout | null;
  running: Promise<SinkPassOutcome> | null;
}

const ACTOR = { kind: 'system', id: 'audit-exporter' } as const;

/** Capped exponential backoff: initial, 2×, 4× … up to the cap. */
export const exportRetryDelayMs = (failures: number, initialMs: number, maxMs: number): number => Math.min(maxMs, initialMs * 2 ** Math.max(0, Math.min(30, failures - 1)));

const shortError = (error: unknown): string => (error instanceof Error ? error.message : 'delivery failed').slice(0, 200);

/**
 * Forwards the audit log to every configured sink, at least once and in order, each sink from its
 * own durable cursor (AuditExportRepository).
 *
 * Each sink runs its own loop, so a sink that hangs or is down delays nobody else. A pass takes the
 * sink's lease (one instance per sink across all instances sharing the database), reads the next
 * batch after the cursor, delivers it and only then advances the cursor; if anything fails in
 * between, the same batch is sent again later, so a receiver may see a batch twice and deduplicates
 * on each event's id. Failures back off exponentially up to `retryMaxMs`.
 *
 * Audit events about the export itself are recorded on state changes only (`audit_export.stalled`
 * once when a sink starts failing, `audit_export.resumed` when it delivers again,
 * `audit_export.failed` when it refuses a batch): they are exported like any other event, and
 * because retries add nothing, a sink that stays down cannot make the log grow by itself.
 */
export class AuditExporter {
  readonly owner: string;
  private readonly states = new Map<string, SinkState>();
  private stopped = true;

  constructor(private readonly options: AuditExporterOptions) {
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    for (const sink of options.sinks) this.states.set(sink.name, { failures: 0, retryAt: 0, timer: null, running: null });
  }

  get sinks(): readonly AuditExportSink[] {
    return this.options.sinks;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    for (const sink of this.options.sinks) this.schedule(sink, 0);
  }

  /** Stops every loop, waits for deliveries in flight, lets the leases go and closes the sinks. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const state of this.states.values()) if (state.timer) clearTimeout(state.timer);
    await Promise.allSettled([...this.states.values()].map((state) => state.running));
    await Promise.allSettled(this.options.sinks.map((sink) => this.options.store.auditExport.release(sink.name, this.owner)));
    await Promise.allSettled(this.options.sinks.map((sink) => sink.close()));
  }

  /** Runs one pass over every sink now (waiting passes are skipped); for tests and the CLI. */
  async exportOnce(): Promise<Record<string, SinkPassOutcome>> {
    const outcomes = await Promise.all(this.options.sinks.map(async (sink) => [sink.name, await this.pass(sink)] as const));
    return Object.fromEntries(outcomes);
  }

  /** How far behind each sink is. */
  async lag(): Promise<SinkLag[]> {
    const [head, cursors] = await Promise.all([this.options.store.audit.head(), this.options.store.auditExport.list()]);
    const byName = new Map(cursors.map((cursor) => [cursor.sink, cursor]));
    return this.options.sinks.map((sink) => {
      const cursor = byName.get(sink.name);
      const deliveredSeq = cursor?.deliveredSeq ?? 0;
      return { sink: sink.name, kind: sink.kind, deliveredSeq, lag: Math.max(0, head.seq - deliveredSeq), status: cursor?.status ?? 'active', lastError: cursor?.lastError ?? null };
    });
  }

  private schedule(sink: AuditExportSink, delayMs: number): void {
    const state = this.states.get(sink.name);
    if (!state || this.stopped) return;
    state.timer = setTimeout(() => {
      void this.pass(sink)
        .catch((): SinkPassOutcome => 'failed')
        .then((outcome) => {
          const now = this.options.clock.now().getTime();
          this.schedule(sink, outcome === 'failed' || outcome === 'waiting' ? Math.max(10, Math.min(state.retryAt - now, this.options.retryMaxMs)) : this.options.pollIntervalMs);
        });
    }, delayMs);
  }

  /** One pass over one sink; never two at once for the same sink in this process. */
  private pass(sink: AuditExportSink): Promise<SinkPassOutcome> {
    const state = this.states.get(sink.name);
    if (!state) return Promise.resolve('stopped');
    if (state.running) return state.running;
    state.running = this.drain(sink, state).finally(() => {
      state.running = null;
    });
    return state.running;
  }

  private async drain(sink: AuditExportSink, state: SinkState): Promise<SinkPassOutcome> {
    const { store, clock, batchSize, leaseSeconds } = this.options;
    if (clock.now().getTime() < state.retryAt) return 'waiting';
    for (;;) {
      const now = clock.now();
      let cursor: AuditExportCursor | null;
      let records: AuditRecord[];
      try {
        cursor = await store.auditExport.acquire(sink.name, this.owner, now, new Date(now.getTime() + leaseSeconds * 1000));
        if (cursor === null) return 'leased_elsewhere';
        if (cursor.status === 'stopped') return 'stopped';
        // Appends hold the chain head's lock until they commit, so events become visible in seq
        // order: reading past the cursor never skips an event that commits later.
        records = await store.audit.query({ afterSeq: cursor.deliveredSeq, limit: batchSize });
      } catch {
        // The database is away: nothing was sent, nothing is lost; try again after the backoff.
        this.backOff(state);
        return 'failed';
      }
      if (records.length === 0) return 'caught_up';
      const first = records[0] as AuditRecord;
      const last = records[records.length - 1] as AuditRecord;
      try {
        await sink.deliver(records);
      } catch (error) {
        if (error instanceof BatchRejectedError) {
          await this.changeStatus(sink, 'stopped', shortError(error), 'audit_export.failed', 'export.rejected', {
            delivered_seq: cursor.deliveredSeq,
            first_seq: first.seq,
            last_seq: last.seq,
            status: error.status,
            error: shortError(error),
          }).catch(() => undefined);
          return 'stopped';
        }
        this.backOff(state);
        await this.changeStatus(sink, 'stalled', shortError(error), 'audit_export.stalled', 'export.unreachable', { delivered_seq: cursor.deliveredSeq, error: shortError(error) }).catch(() => undefined);
        return 'failed';
      }
      try {
        if (!(await store.auditExport.advance(sink.name, this.owner, cursor.deliveredSeq, last.seq, clock.now()))) return 'lost_lease';
        if (cursor.status !== 'active' || state.failures > 0) {
          state.failures = 0;
          state.retryAt = 0;
          await this.changeStatus(sink, 'active', null, 'audit_export.resumed', null, { delivered_seq: last.seq });
        }
      } catch {
        // Delivered but not recorded: the batch goes again (the receiver deduplicates by event id).
        this.backOff(state);
        return 'failed';
      }
      if (records.length < batchSize) return 'caught_up';
    }
  }

  private backOff(state: SinkState): void {
    state.failures += 1;
    state.retryAt = this.options.clock.now().getTime() + exportRetryDelayMs(state.failures, this.options.retryInitialMs, this.options.retryMaxMs);
  }

  /**
   * Stores a new status and, in the same transaction, the audit event that records the change; only
   * the call that actually changes the status writes the event, so several instances (or retries)
   * seeing the same outage record it once.
   */
  private async changeStatus(
    sink: AuditExportSink,
    status: AuditExportStatus,
    lastError: string | null,
    type: AuditEventType,
    reason: string | null,
    data: Record<string, string | number | null>,
  ): Promise<void> {
    const { store, clock } = this.options;
    await store.transaction(async (tx) => {
      const now = clock.now();
      if (!(await tx.auditExport.setStatus(sink.name, status, lastError, now))) return;
      const event: AuditEventInput = {
        type,
        at: now,
        actor: ACTOR,
        subject: null,
        outcome: status === 'active' ? 'success' : 'failure',
        reason,
        ip: null,
        userAgent: null,
        department: null,
        tier: null,
        flowId: null,
        data: { sink: sink.name, kind: sink.kind, ...data },
      };
      await tx.audit.append([event]);
    });
  }
}

/** Registers `latchkey_audit_export_lag_events{sink}`: how many events each sink is behind. */
export function registerAuditExportMetrics(registry: Registry, exporter: AuditExporter): void {
  if (exporter.sinks.length === 0) return;
  new Gauge({
    name: 'latchkey_audit_export_lag_events',
    help: 'Audit events appended but not yet acknowledged, per export sink.',
    labelNames: ['sink'],
    registers: [registry],
    async collect() {
      for (const sink of await exporter.lag()) this.set({ sink: sink.sink }, sink.lag);
    },
  });
}

/**
 * Puts a sink that refused a batch (status `stopped`) back to work, once the operator has fixed the
 * receiver or its configuration, recording `audit_export.resumed` with who did it. The refused batch
 * is sent again first. False when the sink is not stopped (nothing to resume).
 */
export async function resumeStoppedSink(store: Store, clock: Clock, sink: Pick<AuditExportSink, 'name' | 'kind'>, actor: AuditEventInput['actor']): Promise<boolean> {
  return store.transaction(async (tx) => {
    const cursor = await tx.auditExport.get(sink.name);
    if (cursor?.status !== 'stopped') return false;
    const now = clock.now();
    if (!(await tx.auditExport.setStatus(sink.name, 'active', null, now))) return false;
    await tx.audit.append([
      {
        type: 'audit_export.resumed',
        at: now,
        actor,
        subject: null,
        outcome: 'success',
        reason: 'operator',
        ip: null,
        userAgent: null,
        department: null,
        tier: null,
        flowId: null,
        data: { sink: sink.name, kind: sink.kind, delivered_seq: cursor.deliveredSeq },
      },
    ]);
    return true;
  });
}
