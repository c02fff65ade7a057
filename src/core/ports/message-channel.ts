export const MESSAGE_CHANNELS = ['email', 'sms'] as const;
export type MessageChannelKind = (typeof MESSAGE_CHANNELS)[number];

export const MESSAGE_PURPOSES = ['challenge_code', 'enrollment_code', 'recovery_notice', 'enrollment_notice', 'security_alert', 'access_pass', 'helpdesk_approval'] as const;
export type MessagePurpose = (typeof MESSAGE_PURPOSES)[number];

/**
 * A message the domain wants sent. Built only from templates and stored data, never from request
 * input (INP-2, INP-8); `to` is always an address or number of record.
 */
export interface OutboundMessage {
  readonly channel: MessageChannelKind;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly purpose: MessagePurpose;
}

/** A failure that retrying cannot fix (a rejected address, a 4xx from the provider). */
export class PermanentDeliveryError extends Error {
  override readonly name = 'PermanentDeliveryError';
}

/**
 * Delivers one message. Throws on failure: PermanentDeliveryError when a retry cannot help, any
 * other error when it may. Never logs the message body (it may carry a code).
 */
export interface MessageChannel {
  readonly kind: MessageChannelKind;
  /** A short name for logs and metrics, e.g. `smtp`, `sms-webhook`, `twilio`, `dev-outbox`. */
  readonly name: string;
  send(message: OutboundMessage): Promise<{ readonly providerMessageId: string | null }>;
  close?(): Promise<void>;
}
