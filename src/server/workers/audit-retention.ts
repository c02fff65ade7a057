import { verifyChain, GENESIS_HASH } from '../../core/audit/chain.ts';
import type { Checkpoint } from '../../core/audit/checkpoint.ts';
import type { ActorKind, AuditRecord } from '../../core/audit/events.ts';
import type { Repositories, Store } from '../../core/ports/store.ts';
import { recordCheckpoint, type CheckpointWriter } from './audit-checkpointer.ts';

const DAY_MS = 86_400_000;

export interface RetentionSettings {
  readonly days: number;
  readonly maxEventsPerRun: number;
  readonly intervalMinutes: number;
}

/** What a purge did, or would do (dry run). */
export type PurgeOutcome =
  | { readonly purged: false; readonly reason: string; readonly cutoff: Date }
  | {
      readonly purged: boolean;
      readonly dryRun: boolean;
      readonly fromSeq: number;
      readonly throughSeq: number;
      readonly count: number;
      readonly cutoff: Date;
      /** What held the cut back from the retention cutoff, if anything. */
      readonly limitedBy: 'age' | 'delivery' | 'detectors' | 'batch';
      /** The checkpoint the kept log begins after; for a dry run, the existing one or null when one would be written. */
      readonly anchor: Checkpoint | null;
    };

/** The class of error that stops a purge because the log itself is not sound. */
export class RetentionRefusedError extends Error {
  override readonly name = 'RetentionRefusedError';
}

/**
 * Deletes audit events older than the retention period, locally, once every configured export sink
 * has acknowledged them, and only up to a signed checkpoint, so the kept log still verifies (from
 * that checkpoint, its anchor) and an auditor can tell a purge from a deletion.
 *
 * One transaction does it all: lock the chain head (this also makes purges from several instances
 * take turns), verify the chain over the range to delete, sign a checkpoint at the cut unless one
 * exists, delete, and append `audit.purged`. A crash at any point leaves all of it or none.
 */
export class AuditRetention {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopping = false;

  constructor(
    private readonly options: CheckpointWriter & {
      readonly store: Store;
      readonly settings: RetentionSettings;
      /** The export sinks whose acknowledgement a purge waits for (their cursors: store.auditExport). */
      readonly sinkNames: readonly string[];
      /**
       * Whether a purge also waits for the detector runner's cursor (store.monitorState): a detector
       * that fell behind must still judge the events it has not seen.
       */
      readonly waitForDetectors: boolean;
    },
  ) {}

  async purge(options: { readonly dryRun?: boolean; readonly actor?: { readonly kind: ActorKind; readonly id: string | null } } = {}): Promise<PurgeOutcome> {
    const { store, settings, clock } = this.options;
    const dryRun = options.dryRun === true;
    const actor = options.actor ?? { kind: 'system' as const, id: this.options.instance };
    // Read before the transaction: the detector cursor only moves forward, so an older value is the safe side.
    const judgedLimit = this.options.waitForDetectors ? (await store.monitorState.load()).cursor : Number.POSITIVE_INFINITY;
    return store.transaction(async (tx) => {
      const cutoff = new Date(clock.now().getTime() - settings.days * DAY_MS);
      const head = await tx.audit.head({ lock: true });
      const [first] = await tx.audit.query({ limit: 1 });
      if (first === undefined) return { purged: false, reason: 'the audit log is empty', cutoff };

      // SECURITY: `at` need not rise with seq (clocks of several instances differ), so the cut stops
      // before the first young event rather than after the last old one: nothing young is purged.
      const [firstYoung] = await tx.audit.query({ since: cutoff, limit: 1 });
      const ageLimit = firstYoung === undefined ? head.seq : firstYoung.seq - 1;
      // SECURITY: evidence a sink has not acknowledged would be lost for good (LOG-5: shipped to a separate system).
      const deliveredLimit = this.options.sinkNames.length === 0 ? Number.POSITIVE_INFINITY : await tx.auditExport.minimumDelivered(this.options.sinkNames);
      const batchLimit = first.seq + settings.maxEventsPerRun - 1;
      const throughSeq = Math.min(ageLimit, deliveredLimit, judgedLimit, batchLimit);
      const limitedBy = throughSeq === ageLimit ? 'age' : throughSeq === deliveredLimit ? 'delivery' : throughSeq === judgedLimit ? 'detectors' : 'batch';
      if (throughSeq < first.seq) {
        const reason =
          limitedBy === 'age'
            ? `no event is older than ${settings.days} days`
            : limitedBy === 'detectors'
              ? `the detectors have judged only through #${judgedLimit}; the oldest kept event is #${first.seq}`
              : `export sinks have acknowledged only through #${deliveredLimit}; the oldest kept event is #${first.seq}`;
        return { purged: false, reason, cutoff };
      }

      const existing = await tx.auditCheckpoints.get(throughSeq);
      const plan = { fromSeq: first.seq, throughSeq, count: throughSeq - first.seq + 1, cutoff, limitedBy } as const;
      if (dryRun) return { purged: false, dryRun, ...plan, anchor: existing };

      const last = await this.verifyRange(tx, first, throughSeq);
      const anchor = existing ?? (await recordCheckpoint(tx, this.options, { seq: last.seq, hash: last.hash }, 'purge'));
      if (anchor.hash !== last.hash) throw new RetentionRefusedError(`the checkpoint of #${throughSeq} does not match the stored record; nothing was purged (run latchkey audit verify)`);
      const deleted = await tx.audit.purgeThrough(throughSeq);
      await tx.audit.append([
        {
          type: 'audit.purged',
          at: clock.now(),
          actor,
          subject: null,
          outcome: 'success',
          reason: null,
          ip: null,
          userAgent: null,
          department: null,
          tier: null,
          flowId: null,
          data: {
            from_seq: first.seq,
            through_seq: throughSeq,
            count: deleted,
            anchor_seq: anchor.seq,
            anchor_hash: anchor.hash,
            cutoff: cutoff.toISOString(),
            retention_days: settings.days,
          },
        },
      ]);
      return { purged: true, dryRun, ...plan, count: deleted, anchor };
    });
  }

  /**
   * Walks the chain from the kept log's start through `throughSeq` and returns the last record.
   * SECURITY: a new anchor is signed over what is stored; signing over an edited range would turn a
   * tampered record into signed evidence, so a broken chain stops the purge.
   */
  private async verifyRange(tx: Repositories, first: AuditRecord, throughSeq: number): Promise<AuditRecord> {
    const start = first.seq === 1 ? { seq: 0, hash: GENESIS_HASH } : await tx.auditCheckpoints.get(first.seq - 1);
    if (start === null) throw new RetentionRefusedError(`the kept log begins at #${first.seq} without a checkpoint anchoring it; nothing was purged (run latchkey audit verify)`);
    let last: AuditRecord | null = null;
    const range = async function* (): AsyncGenerator<AuditRecord> {
      for await (const record of tx.audit.iterate(first.seq - 1)) {
        if (record.seq > throughSeq) return;
        last = record;
        yield record;
      }
    };
    const verdict = await verifyChain(range(), start);
    if (!verdict.ok) throw new RetentionRefusedError(`the audit chain is broken at #${verdict.firstBadSeq} (${verdict.problem}); nothing was purged`);
    const found = last as AuditRecord | null;
    if (found === null || found.seq !== throughSeq) throw new RetentionRefusedError(`record #${throughSeq} is missing; nothing was purged`);
    return found;
  }

  /**
   * Purges batch after batch until nothing more is due (or the worker stops); each batch is its
   * own transaction, so appends wait for one batch at most, never for the whole backlog. Returns
   * the batches that purged, and the last outcome (why it stopped).
   */
  async purgeAll(options: { readonly actor?: { readonly kind: ActorKind; readonly id: string | null } } = {}): Promise<{ batches: PurgeOutcome[]; last: PurgeOutcome }> {
    const batches: PurgeOutcome[] = [];
    for (;;) {
      const last = await this.purge(options);
      if (!last.purged) return { batches, last };
      batches.push(last);
      if (!('limitedBy' in last) || last.limitedBy !== 'batch' || this.stopping) return { batches, last };
    }
  }

  start(onError: (error: unknown) => void = () => undefined): void {
    const tick = (): void => {
      if (this.running !== null) return;
      this.running = this.purgeAll()
        .catch(onError)
        .finally(() => {
          this.running = null;
        });
    };
    tick();
    this.timer = setInterval(tick, this.options.settings.intervalMinutes * 60_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
