import { checkpointEvent, signCheckpoint, type Checkpoint, type CheckpointSigner } from '../../core/audit/checkpoint.ts';
import type { Repositories, Store } from '../../core/ports/store.ts';
import type { Clock } from '../../core/ports/system.ts';

/** When the chain head gets signed: after `everyEvents` new events, or once the oldest unsigned one is `everyHours` old. */
export interface CheckpointCadence {
  readonly everyEvents: number;
  readonly everyHours: number;
}

export interface CheckpointWriter {
  readonly signer: CheckpointSigner;
  readonly clock: Clock;
  readonly instance: string;
}

/**
 * Signs (seq, hash) of an existing record and records the checkpoint twice: as a row, and as an
 * `audit.checkpointed` event appended to the chain, so that exports and sinks carry it. The caller
 * holds the chain head (`tx.audit.head({ lock: true })`) in the same transaction, so the event
 * lands right after the head it read and the row and the event commit together.
 */
export async function recordCheckpoint(tx: Repositories, writer: CheckpointWriter, target: { readonly seq: number; readonly hash: string }, reason: 'cadence' | 'export' | 'purge'): Promise<Checkpoint> {
  const checkpoint = signCheckpoint({ seq: target.seq, hash: target.hash, at: writer.clock.now(), instance: writer.instance }, writer.signer);
  const [event] = await tx.audit.append([checkpointEvent(checkpoint, reason)]);
  if (event === undefined) throw new Error('the checkpoint event was not appended');
  await tx.auditCheckpoints.record(checkpoint, event.seq);
  return checkpoint;
}

/** What is waiting to be signed: events after the newest checkpoint, not counting the event that carries it. */
async function unsignedSince(repos: Repositories, headSeq: number): Promise<{ count: number; oldestAt: Date | null; latest: { checkpoint: Checkpoint; eventSeq: number } | null }> {
  const latest = await repos.auditCheckpoints.latest();
  const after = latest?.checkpoint.seq ?? 0;
  const carrier = latest !== null && latest.eventSeq > after && latest.eventSeq <= headSeq ? 1 : 0;
  const count = Math.max(0, headSeq - after - carrier);
  if (count === 0) return { count, oldestAt: null, latest };
  const [first, second] = await repos.audit.query({ afterSeq: after, limit: 2 });
  const oldest = first !== undefined && first.seq === latest?.eventSeq ? second : first;
  return { count, oldestAt: oldest?.at ?? null, latest };
}

/**
 * Signs the audit chain head on a cadence (see {@link CheckpointCadence}) and on demand (before an
 * export). Safe with several instances on one database: the decision is re-taken under the chain
 * head's lock, so two instances never both sign the same head, and a second checkpoint of one seq
 * is refused by the table's key anyway.
 */
export class AuditCheckpointer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;

  constructor(
    private readonly options: CheckpointWriter & {
      readonly store: Store;
      readonly cadence: CheckpointCadence;
      readonly pollIntervalMs: number;
    },
  ) {}

  private isDue(pending: { count: number; oldestAt: Date | null }): boolean {
    if (pending.count === 0) return false;
    if (pending.count >= this.options.cadence.everyEvents) return true;
    const ageMs = pending.oldestAt === null ? 0 : this.options.clock.now().getTime() - pending.oldestAt.getTime();
    return ageMs >= this.options.cadence.everyHours * 3_600_000;
  }

  /** Writes a checkpoint when the cadence says one is due; returns it, or null when none was due. */
  async writeIfDue(): Promise<Checkpoint | null> {
    const { store } = this.options;
    // A lock-free look first: most ticks find nothing due and must not hold up appends.
    if (!this.isDue(await unsignedSince(store, (await store.audit.head()).seq))) return null;
    return store.transaction(async (tx) => {
      const head = await tx.audit.head({ lock: true });
      if (!this.isDue(await unsignedSince(tx, head.seq))) return null;
      return recordCheckpoint(tx, this.options, head, 'cadence');
    });
  }

  /**
   * Makes sure the head is signed (an export ends with the evidence for all it holds) and returns
   * the checkpoint that covers it; null for an empty log.
   */
  async signHead(reason: 'export' | 'cadence' = 'export'): Promise<Checkpoint | null> {
    return this.options.store.transaction(async (tx) => {
      const head = await tx.audit.head({ lock: true });
      if (head.seq === 0) return null;
      const pending = await unsignedSince(tx, head.seq);
      if (pending.count === 0 && pending.latest !== null) return pending.latest.checkpoint;
      return recordCheckpoint(tx, this.options, head, reason);
    });
  }

  start(): void {
    const tick = (): void => {
      if (this.running !== null) return;
      this.running = this.writeIfDue()
        .catch(() => {
          // The database was briefly away; the next tick signs everything pending, nothing is lost.
        })
        .finally(() => {
          this.running = null;
        });
    };
    tick();
    this.timer = setInterval(tick, this.options.pollIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
