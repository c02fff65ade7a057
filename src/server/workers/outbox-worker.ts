import { DrainingWorker } from './draining-worker.ts';
import type { AuditEventInput } from '../../core/audit/events.ts';
import { outboxContext } from '../../core/notifications/outbox.ts';
import { PermanentDeliveryError, type MessageChannel, type MessageChannelKind, type OutboundMessage } from '../../core/ports/message-channel.ts';
import type { OutboxRecord, OutboxRepository, Store } from '../../core/ports/store.ts';
import type { Clock, SecretCipher } from '../../core/ports/system.ts';
import { DEV_OUTBOX_CHANNEL_NAME } from '../../adapters/channel/dev-outbox/dev-outbox-channel.ts';

export interface OutboxWorkerOptions {
  readonly store: Store;
  readonly cipher: SecretCipher;
  readonly clock: Clock;
  readonly channels: Readonly<Record<MessageChannelKind, MessageChannel>>;
  readonly maxAttempts: number;
  readonly pollIntervalMs: number;
  readonly batchSize?: number;
  /** How long a leased message is ours before another worker may take it over after a crash. */
  readonly leaseSeconds?: number;
  readonly onDelivered?: (record: OutboxRecord, via: string) => void;
}

/** Exponential backoff: 2 s, 4 s, 8 s … capped at an hour. */
export const retryDelayMs = (attempts: number): number => Math.min(3_600_000, 1000 * 2 ** Math.max(1, attempts));

/**
 * Delivers outbox messages after their transaction committed, with retries and backoff. Leases make
 * it safe to run in every instance: a message is sent by one worker at a time, and a worker that
 * dies mid-send leaves a lease that expires, so nothing is lost (at-least-once).
 */
export class OutboxWorker extends DrainingWorker {
  constructor(private readonly options: OutboxWorkerOptions) {
    super(options.pollIntervalMs);
  }

  protected async drainAll(): Promise<number> {
    let total = 0;
    for (;;) {
      const now = this.options.clock.now();
      const batch = await this.options.store.outbox.claimDue(now, new Date(now.getTime() + (this.options.leaseSeconds ?? 60) * 1000), this.options.batchSize ?? 20);
      if (batch.length === 0) return total;
      total += batch.length;
      const record = groupCommit((outcomes: readonly Outcome[]) => this.record(outcomes));
      await Promise.all(batch.map(async (message) => record(await this.attempt(message))));
    }
  }

  /** Sends one leased message; what came of it is written by {@link record}. Never throws. */
  private async attempt(record: OutboxRecord): Promise<Outcome> {
    const { cipher, clock, channels, maxAttempts } = this.options;
    const channel = channels[record.channel];
    const base = { actor: { kind: 'system' as const, id: 'outbox-worker' }, subject: record.accountId, ip: null, userAgent: null, department: null, tier: null, flowId: null };
    if (!record.payloadCiphertext) {
      // Nothing left to send (the row was scrubbed or damaged): give up, on the record like any other failure.
      const now = clock.now();
      return {
        record,
        delivered: null,
        write: (outbox) => outbox.markFailed(record.id, 'payload missing', null),
        event: { ...base, at: now, type: 'message.failed', outcome: 'failure', reason: 'delivery.abandoned', data: { message_id: record.id, channel: record.channel, via: channel.name, attempts: record.attempts, permanent: true } },
      };
    }
    try {
      const message = JSON.parse(cipher.decrypt(record.payloadCiphertext, outboxContext(record.id))) as OutboundMessage;
      await channel.send(message);
      const now = clock.now();
      return {
        record,
        delivered: channel.name,
        // The dev outbox keeps the text so an admin can read it; a real channel's copy is scrubbed.
        write: (outbox) => outbox.markDelivered(record.id, now, channel.name, channel.name !== DEV_OUTBOX_CHANNEL_NAME),
        event: { ...base, at: now, type: 'message.delivered', outcome: 'success', reason: null, data: { message_id: record.id, channel: record.channel, via: channel.name, attempts: record.attempts } },
      };
    } catch (error) {
      const permanent = error instanceof PermanentDeliveryError;
      const giveUp = permanent || record.attempts >= maxAttempts;
      const now = clock.now();
      const reason = error instanceof Error ? error.message.slice(0, 200) : 'delivery failed';
      return {
        record,
        delivered: null,
        write: (outbox) => outbox.markFailed(record.id, reason, giveUp ? null : new Date(now.getTime() + retryDelayMs(record.attempts))),
        event: { ...base, at: now, type: 'message.failed', outcome: 'failure', reason: giveUp ? 'delivery.abandoned' : 'delivery.retrying', data: { message_id: record.id, channel: record.channel, via: channel.name, attempts: record.attempts, permanent } },
      };
    }
  }

  /**
   * Writes the outcomes of several attempts in one transaction: each message's new status, and one
   * audit event per message (`message.delivered` or `message.failed`), appended in one go.
   *
   * Why: one transaction per message cost six statements and a commit each (a third of a reset
   * flow's commits); the batch shares the BEGIN, the audit head and the COMMIT. Delivery stays
   * at-least-once: a message is marked delivered only after its send succeeded, and if this
   * transaction fails (or the process dies first), the messages stay leased and are sent again once
   * the lease runs out, exactly as when a worker dies mid-send.
   */
  private async record(outcomes: readonly Outcome[]): Promise<void> {
    await this.options.store.transaction(async (tx) => {
      for (const outcome of outcomes) await outcome.write(tx.outbox);
      await tx.audit.append(outcomes.map((outcome) => outcome.event));
    });
    for (const outcome of outcomes) if (outcome.delivered !== null) this.options.onDelivered?.(outcome.record, outcome.delivered);
  }
}

/** What one delivery attempt came to: the status change and the audit event that records it. */
interface Outcome {
  readonly record: OutboxRecord;
  /** The channel adapter that delivered it, or null when the attempt failed. */
  readonly delivered: string | null;
  readonly write: (outbox: OutboxRepository) => Promise<void>;
  readonly event: AuditEventInput;
}

/**
 * Group commit: `submit(item)` resolves once `write` has stored the item, together with every other
 * item submitted in the same turn of the event loop or while the previous write was running. Items
 * that finish at different times (a fast and a slow channel) are not held back for each other;
 * items that finish together (a batch through the dev outbox) share one write.
 */
function groupCommit<T>(write: (items: readonly T[]) => Promise<void>): (item: T) => Promise<void> {
  let waiting: { item: T; resolve: () => void; reject: (error: unknown) => void }[] = [];
  let busy = false;
  const flush = async (): Promise<void> => {
    busy = true;
    while (waiting.length > 0) {
      const group = waiting;
      waiting = [];
      try {
        await write(group.map((entry) => entry.item));
        for (const entry of group) entry.resolve();
      } catch (error) {
        for (const entry of group) entry.reject(error);
      }
    }
    busy = false;
  };
  return (item) =>
    new Promise<void>((resolve, reject) => {
      waiting.push({ item, resolve, reject });
      if (waiting.length === 1 && !busy) setImmediate(() => void flush());
    });
}
