import type { AccountId } from '../account/ids.ts';
import type { AuditEventInput } from '../audit/events.ts';
import type { OutboundMessage } from '../ports/message-channel.ts';
import type { Repositories } from '../ports/store.ts';
import type { Random, SecretCipher } from '../ports/system.ts';
import { maskEmail, maskPhone } from '../account/masking.ts';

/** The AAD that binds an outbox payload ciphertext to its row. */
export const outboxContext = (id: string): string => `outbox:${id}`;

/**
 * Puts a message in the outbox inside the caller's transaction, encrypted (it may carry a code),
 * and returns the audit event that records it. The worker delivers it after commit, so a crash
 * between the flow step and delivery loses nothing.
 */
export async function enqueueMessage(
  tx: Repositories,
  deps: { readonly random: Random; readonly cipher: SecretCipher },
  message: OutboundMessage,
  accountId: AccountId | null,
  now: Date,
  audit: Omit<AuditEventInput, 'type' | 'outcome' | 'reason' | 'data'>,
): Promise<AuditEventInput> {
  const id = deps.random.uuid();
  const recipientHint = message.channel === 'email' ? maskEmail(message.to) : maskPhone(message.to);
  await tx.outbox.enqueue({
    id,
    channel: message.channel,
    purpose: message.purpose,
    accountId,
    payloadCiphertext: deps.cipher.encrypt(JSON.stringify(message), outboxContext(id)),
    recipientHint,
    createdAt: now,
    availableAt: now,
  });
  return { ...audit, type: 'message.queued', outcome: 'info', reason: null, data: { message_id: id, channel: message.channel, purpose: message.purpose, recipient: recipientHint } };
}
