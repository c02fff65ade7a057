import { asAccountId } from '../account/ids.ts';
import { maskPhone } from '../account/masking.ts';
import { auditActor, rolesFor, type AdminPrincipal } from '../admin/principal.ts';

/** An account's page shows its newest events from this many days, at most RECENT_EVENTS_SHOWN of them. */
const RECENT_EVENTS_DAYS = 30;
const RECENT_EVENTS_SHOWN = 25;
import type { AuditEventInput, AuditRecord } from '../audit/events.ts';
import { DomainError } from '../errors.ts';
import { outboxContext } from '../notifications/outbox.ts';
import { resolveTier } from '../policy/tier.ts';
import { isHoneytoken } from '../honeytoken/honeytoken.ts';
import type { MessageChannelKind, OutboundMessage } from '../ports/message-channel.ts';
import type { AuditQuery, OutboxQuery, OutboxRecord } from '../ports/store.ts';
import type { AppDeps } from './deps.ts';

export interface AdminActor {
  /** Who asks: a console session, an API token or the CLI; audit records name it (auditActor). */
  readonly principal: AdminPrincipal;
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

  /** Channels whose messages stay in the dev outbox; empty when every channel has a real provider. */
  get devOutboxChannels(): readonly MessageChannelKind[] {
    return [...this.devChannels];
  }

  /**
   * Accounts of the directory Latchkey fronts (built-in, LDAP or AD) whose username, display name or
   * work email contains `query`, in username order, paged with `after` (the last username seen).
   */
  async accounts(actor: AdminActor, options: { query?: string; after?: string; limit: number }) {
    const { deps } = this;
    const accounts = await deps.directory.searchAccounts(options.query ?? '', options.limit, options.after ? { afterUsername: options.after } : {});
    const locks = await Promise.all(accounts.map((account) => deps.directory.readLockState(account.id)));
    await this.record(actor, 'admin.accounts_queried', { count: accounts.length });
    const policy = deps.policy();
    // SECURITY: a listing that shows a honeytoken account is an admin lookup of it (the same
    // tripwire as opening it): a stolen token sweeping the directory for targets trips it, while
    // the reply is the listing anyone would get. Security admins maintain the tripwires and do not.
    if (!actor.principal.roles.has('security_admin')) {
      const now = deps.clock.now();
      const touched = accounts.filter((account) => isHoneytoken(policy.honeytokens, null, account));
      if (touched.length > 0) {
        await deps.store.audit.append(
          touched.map((account) => ({
            type: 'honeytoken.touched' as const,
            at: now,
            actor: auditActor(actor.principal),
            subject: account.id,
            outcome: 'failure' as const,
            reason: 'honeytoken',
            ip: actor.ip,
            userAgent: actor.userAgent,
            department: null,
            tier: null,
            flowId: null,
            data: { via: 'admin_lookup', listing: true },
          })),
        );
      }
    }
    return accounts.map((account, index) => ({
      id: account.id,
      username: account.username,
      displayName: account.displayName,
      department: account.department,
      groups: account.groups,
      tier: resolveTier(policy, account.groups, account.directoryPrivileged),
      enabled: account.enabled,
      locked: locks[index]?.locked ?? false,
    }));
  }

  async account(actor: AdminActor, id: string) {
    const { deps } = this;
    const account = await deps.directory.getAccount(asAccountId(id));
    if (!account) throw new DomainError('route.not_found', 'No such account.');
    const now = deps.clock.now();
    const [lock, enrollments, events] = await Promise.all([
      deps.directory.readLockState(account.id),
      deps.store.enrollments.listForAccount(account.id),
      deps.store.audit.query({ subject: account.id, since: new Date(now.getTime() - RECENT_EVENTS_DAYS * 86_400_000), limit: 1_000 }),
    ]);
    await this.record(actor, 'admin.accounts_queried', { account: account.id });
    // SECURITY: an admin credential opening a honeytoken account is a stolen token or an insider
    // mapping targets; only security admins (who maintain the tripwires) may look without tripping it.
    if (!actor.principal.roles.has('security_admin') && isHoneytoken(deps.policy().honeytokens, null, account)) {
      await deps.store.audit.append([
        { type: 'honeytoken.touched', at: now, actor: auditActor(actor.principal), subject: account.id, outcome: 'failure', reason: 'honeytoken', ip: actor.ip, userAgent: actor.userAgent, department: null, tier: null, flowId: null, data: { via: 'admin_lookup' } },
      ]);
    }
    return {
      id: account.id,
      username: account.username,
      displayName: account.displayName,
      department: account.department,
      // SECURITY: the directory's phone of record, masked as enrolled phones are (PRIV-2): enough for
      // a helpdesk to match what a caller says, never a number to call or port. It is unverified
      // directory data and never a recovery channel (codes go only to enrolled, proved phones).
      directoryPhone: account.phone === null ? null : maskPhone(account.phone),
      groups: account.groups,
      enabled: account.enabled,
      tier: resolveTier(deps.policy(), account.groups, account.directoryPrivileged),
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
      adminRoles: [...rolesFor(account.groups, deps.policy().adminRoles)],
      // The account's own recent history for the console's account page: what happened, never the data blob (it can carry addresses).
      recentEvents: events
        .slice(-RECENT_EVENTS_SHOWN)
        .reverse()
        .map((event) => ({ seq: event.seq, at: event.at.toISOString(), type: event.type, outcome: event.outcome, reason: event.reason, actor: event.actor, ip: event.ip })),
    };
  }

  /** A page of the audit log; `format` names a download (csv, jsonl), recorded so an export is told apart from a look. */
  async audit(actor: AdminActor, query: AuditQuery, format: 'json' | 'csv' | 'jsonl' = 'json'): Promise<{ events: AuditRecord[]; nextAfter: number | null }> {
    const events = await this.deps.store.audit.query(query);
    await this.record(actor, 'admin.audit_queried', { count: events.length, ...(format === 'json' ? {} : { format }) });
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
      { type, at: this.deps.clock.now(), actor: auditActor(actor.principal), subject: null, outcome: 'success', reason: null, ip: actor.ip, userAgent: actor.userAgent, department: null, tier: null, flowId: null, data },
    ]);
  }
}
