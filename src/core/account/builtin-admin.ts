import { z } from 'zod';
import type { AccountId } from './ids.ts';
import { asAccountId } from './ids.ts';
import { canonicalIdentifier, isEmailAddress } from './identifier.ts';
import type { AuditEventInput } from '../audit/events.ts';
import { DomainError } from '../errors.ts';
import { checkPassword } from '../policy/password-rules.ts';
import { resolveTier } from '../policy/tier.ts';
import type { Policy } from '../policy/schema.ts';
import { DuplicateError, type BuiltinAccountRecord, type Store } from '../ports/store.ts';
import type { Clock, PasswordHasher, Random } from '../ports/system.ts';

/** One account to create in the built-in directory, as the CLI and imports supply it. */
export const newAccountSchema = z
  .object({
    username: z.string().min(1, 'username is required').max(256),
    displayName: z.string().min(1).max(200).optional(),
    email: z.string().max(256).optional(),
    department: z.string().min(1).max(200).optional(),
    groups: z.array(z.string().min(1).max(200)).max(100).optional(),
    password: z.string().min(1).max(1024).optional(),
  })
  .strict();

export type NewAccount = z.infer<typeof newAccountSchema>;

/** Letters (with their combining marks), digits, '.', '-' and '_': the documented username alphabet. */
const USERNAME_CHARACTERS = /^[\p{L}\p{M}\p{N}._-]+$/u;

/**
 * The canonical username, or null when it is not one: canonical (identifier.ts) and drawn only from
 * the documented alphabet.
 *
 * SECURITY: without the alphabet check `<script>alert(1)</script>`, `https://evil.test/login` or
 * `a%0d%0a` were accepted (only spaces, controls and '@' were refused), so markup and links could
 * ride into every listing, export and console that shows a username (INP-2, INP-8).
 */
export function canonicalUsername(raw: string): string | null {
  const username = canonicalIdentifier(raw);
  return username.ok && USERNAME_CHARACTERS.test(username.value) ? username.value : null;
}

/**
 * Creates accounts in the built-in directory. Usernames and emails are stored in canonical form
 * (identifier.ts), the one form lookups use. An account created without a password gets a random
 * one nobody knows; the person sets theirs through recovery.
 */
export class BuiltinAccountAdmin {
  constructor(private readonly deps: { store: Store; hasher: PasswordHasher; clock: Clock; random: Random; normalisePassword: (password: string) => string; policy: () => Policy }) {}

  async create(input: NewAccount, actor: { kind: 'cli' | 'admin_token'; id: string | null }): Promise<AccountId> {
    const { deps } = this;
    const username = canonicalUsername(input.username);
    if (username === null) {
      throw new DomainError('request.invalid', `username '${input.username.slice(0, 64)}' is not valid: use letters, digits, '.', '-' or '_' in one script, without spaces or '@'.`);
    }
    let workEmail: string | null = null;
    if (input.email !== undefined) {
      const email = canonicalIdentifier(input.email);
      if (!email.ok || !isEmailAddress(email.value)) throw new DomainError('request.invalid', `email '${input.email.slice(0, 64)}' is not a single valid address.`);
      workEmail = email.value;
    }
    const now = deps.clock.now();
    const id = asAccountId(`builtin:${deps.random.uuid()}`);
    if (input.password !== undefined) {
      // An initial password meets the same rules as one chosen in recovery: no weak first passwords.
      const policy = deps.policy();
      const tier = resolveTier(policy, input.groups ?? []);
      const rules = (tier === 'break_glass' ? policy.tiers.privileged : policy.tiers[tier]).password;
      const verdict = checkPassword(input.password, rules, { username, displayName: input.displayName ?? username, organisationName: policy.organisationName, contextWords: policy.contextWords });
      if (!verdict.ok) throw new DomainError('password.policy', `the password for '${username}' does not meet the policy: ${verdict.reasons.map((reason) => reason.message).join(' ')}`);
    }
    const password = input.password ?? deps.random.bytes(32).toString('base64url');
    const record: BuiltinAccountRecord = {
      id,
      username,
      displayName: input.displayName ?? username,
      workEmail,
      department: input.department ?? null,
      groups: input.groups ?? [],
      enabled: true,
      passwordHash: await deps.hasher.hash(deps.normalisePassword(password)),
      failedSignIns: 0,
      lockedAt: null,
      createdAt: now,
      passwordChangedAt: now,
    };
    const event: AuditEventInput = {
      type: 'account.created',
      at: now,
      actor,
      subject: id,
      outcome: 'success',
      reason: null,
      ip: null,
      userAgent: null,
      department: record.department,
      tier: null,
      flowId: null,
      data: { directory: 'builtin', groups: record.groups.length },
    };
    try {
      await deps.store.transaction(async (tx) => {
        await tx.builtinAccounts.insert(record);
        await tx.audit.append([event]);
      });
    } catch (error) {
      if (error instanceof DuplicateError) throw new DomainError('request.invalid', `username '${username}' already exists.`);
      throw error;
    }
    return id;
  }
}
