import { outboxContext } from '../../core/notifications/outbox.ts';
import { PermanentDeliveryError, type MessageChannel, type MessageChannelKind, type OutboundMessage } from '../../core/ports/message-channel.ts';
import type { OutboxRecord, Store } from '../../core/ports/store.ts';
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
export class OutboxWorker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private stopped = false;

  constructor(private readonly options: OutboxWorkerOptions) {}

  start(): void {
    this.stopped = false;
    const tick = async (): Promise<void> => {
      try {
        await this.drain();
      } catch {
        // A failed poll (database briefly away) is retried at the next tick; nothing was lost.
      }
      if (!this.stopped) this.timer = setTimeout(() => void tick(), this.options.pollIntervalMs);
    };
    this.timer = setTimeout(() => void tick(), 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Delivers every message due now; returns how many it attempted. One drain at a time per worker. */
  async drain(): Promise<number> {
    if (this.running) return this.running;
    this.running = this.drainAll().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async drainAll(): Promise<number> {
    let total = 0;
    for (;;) {
      const now = this.options.clock.now();
      const batch = await this.options.store.outbox.claimDue(now, new Date(now.getTime() + (this.options.leaseSeconds ?? 60) * 1000), this.options.batchSize ?? 20);
      if (batch.length === 0) return total;
      total += batch.length;
      await Promise.all(batch.map((record) => this.deliver(record)));
    }
  }

  private async deliver(record: OutboxRecord): Promise<void> {
    const { store, cipher, clock, channels, maxAttempts } = this.options;
    const channel = channels[record.channel];
    const base = { actor: { kind: 'system' as const, id: 'outbox-worker' }, subject: record.accountId, ip: null, userAgent: null, department: null, tier: null, flowId: null };
    if (!record.payloadCiphertext) {
      // Nothing left to send (the row was scrubbed or damaged): give up, on the record like any other failure.
      const now = clock.now();
      await store.transaction(async (tx) => {
        await tx.outbox.markFailed(record.id, 'payload missing', null);
        await tx.audit.append([{ ...base, at: now, type: 'message.failed', outcome: 'failure', reason: 'delivery.abandoned', data: { message_id: record.id, channel: record.channel, via: channel.name, attempts: record.attempts, permanent: true } }]);
      });
      return;
    }
    try {
      const message = JSON.parse(cipher.decrypt(record.payloadCiphertext, outboxContext(record.id))) as OutboundMessage;
      await channel.send(message);
      const now = clock.now();
      await store.transaction(async (tx) => {
        // The dev outbox keeps the text so an admin can read it; a real channel's copy is scrubbed.
        await tx.outbox.markDelivered(record.id, now, channel.name, channel.name !== DEV_OUTBOX_CHANNEL_NAME);
        await tx.audit.append([{ ...base, at: now, type: 'message.delivered', outcome: 'success', reason: null, data: { message_id: record.id, channel: record.channel, via: channel.name, attempts: record.attempts } }]);
      });
      this.options.onDelivered?.(record, channel.name);
    } catch (error) {
      const permanent = error instanceof PermanentDeliveryError;
      const giveUp = permanent || record.attempts >= maxAttempts;
      const now = clock.now();
      const reason = error instanceof Error ? error.message.slice(0, 200) : 'delivery failed';
      await store.transaction(async (tx) => {
        await tx.outbox.markFailed(record.id, reason, giveUp ? null : new Date(now.getTime() + retryDelayMs(record.attempts)));
        await tx.audit.append([{ ...base, at: now, type: 'message.failed', outcome: 'failure', reason: giveUp ? 'delivery.abandoned' : 'delivery.retrying', data: { message_id: record.id, channel: record.channel, via: channel.name, attempts: record.attempts, permanent } }]);
      });
    }
  }
}
