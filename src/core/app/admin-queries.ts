import { asAccountId } from '../account/ids.ts';
import type { AuditEventInput, AuditRecord } from '../audit/events.ts';
import { DomainError } from '../errors.ts';
import { outboxContext } from '../notifications/outbox.ts';
import { resolveTier } from '../policy/tier.ts';
import type { MessageChannelKind, OutboundMessage } from '../ports/message-channel.ts';
import type { AuditQuery, OutboxQuery, OutboxRecord } from '../ports/store.ts';
import type { AppDeps } from './deps.ts';

export interface AdminActor {
  readonly tokenId: string;
  readonly ip: string;
  readonly userAgent: string | null;
}

/** A dev-outbox message as an admin sees it: text only when no real channel delivered it. */
export interface OutboxEntry {
  readonly id: string;
  readonly channel: OutboxRecord['channel'];
  readonly purpose: OutboxRecord['purpose'];
  readonly recipient: string;
  readonly status: OutboxRecord['status'];
  readonly createdAt: string;
  readonly deliveredVia: string | null;
  readonly to: string | null;
  readonly subject: string | null;
  readonly text: string | null;
}

/**
 * What the admin API reads. Every read is itself audited (who looked at what), and nothing secret
 * leaves: enrollments are shown by method and masked label only (PRIV-2).
 */
export class AdminQueries {
  constructor(
    private readonly deps: AppDeps,
    /** Channels with no real provider: their messages stay in the dev outbox for an admin to read. */
    private readonly devChannels: ReadonlySet<MessageChannelKind>,
  ) {}

  async accounts(actor: AdminActor, options: { query?: string; after?: string; limit: number }) {
    const records = await this.deps.store.builtinAccounts.list({ limit: options.limit, ...(options.after ? { afterUsername: options.after } : {}), ...(options.query ? { query: options.query } : {}) });
    await this.record(actor, 'admin.accounts_queried', { count: records.length });
    const policy = this.deps.policy();
    return records.map((record) => ({
      id: record.id,
      username: record.username,
      displayName: record.displayName,
      department: record.department,
      groups: record.groups,
      tier: resolveTier(policy, record.groups),
      enabled: record.enabled,
      locked: record.lockedAt !== null,
    }));
  }

  async account(actor: AdminActor, id: string) {
    const { deps } = this;
    const account = await deps.directory.getAccount(asAccountId(id));
    if (!account) throw new DomainError('route.not_found', 'No such account.');
    const [lock, enrollments] = await Promise.all([deps.directory.readLockState(account.id), deps.store.enrollments.listForAccount(account.id)]);
    await this.record(actor, 'admin.accounts_queried', { account: account.id });
    return {
      id: account.id,
      username: account.username,
      displayName: account.displayName,
      department: account.department,
      groups: account.groups,
      enabled: account.enabled,
      tier: resolveTier(deps.policy(), account.groups),
      locked: lock.locked,
      lockedSince: lock.locked ? lock.since.toISOString() : null,
      enrollments: enrollments.map((enrollment) => ({
        id: enrollment.id,
        method: enrollment.methodId,
        status: enrollment.status,
        label: enrollment.label,
        createdAt: enrollment.createdAt.toISOString(),
        lastUsedAt: enrollment.lastUsedAt?.toISOString() ?? null,
      })),
    };
  }

  async audit(actor: AdminActor, query: AuditQuery): Promise<{ events: AuditRecord[]; nextAfter: number | null }> {
    const events = await this.deps.store.audit.query(query);
    await this.record(actor, 'admin.audit_queried', { count: events.length });
    const last = events[events.length - 1];
    return { events, nextAfter: events.length === query.limit && last ? last.seq : null };
  }

  async outbox(actor: AdminActor, query: OutboxQuery): Promise<OutboxEntry[]> {
    const { deps } = this;
    const records = await deps.store.outbox.list(query);
    await this.record(actor, 'admin.outbox_queried', { count: records.length });
    return records.map((record) => {
      const message = record.payloadCiphertext ? (JSON.parse(deps.cipher.decrypt(record.payloadCiphertext, outboxContext(record.id))) as OutboundMessage) : null;
      // SECURITY: only what stayed in the dev outbox is readable; a real channel's messages show
      // metadata only, so the admin API cannot be used to read codes sent to people.
      const readable = message !== null && (record.deliveredVia === 'dev-outbox' || (record.deliveredVia === null && this.devChannels.has(record.channel)));
      return {
        id: record.id,
        channel: record.channel,
        purpose: record.purpose,
        recipient: record.recipientHint,
        status: record.status,
        createdAt: record.createdAt.toISOString(),
        deliveredVia: record.deliveredVia,
        to: readable ? message.to : null,
        subject: readable ? message.subject : null,
        text: readable ? message.text : null,
      };
    });
  }

  private async record(actor: AdminActor, type: AuditEventInput['type'], data: AuditEventInput['data']): Promise<void> {
    await this.deps.store.audit.append([
      { type, at: this.deps.clock.now(), actor: { kind: 'admin_token', id: actor.tokenId }, subject: null, outcome: 'success', reason: null, ip: actor.ip, userAgent: actor.userAgent, department: null, tier: null, flowId: null, data },
    ]);
  }
}
