import type { AlertNotification } from './notification.ts';

/**
 * Delivers alert notifications to one target (a webhook, a syslog collector). Called by the alert
 * delivery worker after the notification was committed, with retries and backoff. Throws on failure:
 * PermanentDeliveryError (core/ports/message-channel.ts) when a retry cannot help, any other error
 * when it may. Error messages are short and carry no payload, URL path or secret: they are stored
 * and audited.
 */
export interface AlertDeliverer {
  /** The target's name as queued deliveries carry it, e.g. `webhook:soc` or `syslog`. */
  readonly target: string;
  /** `deliveryId` is stable across retries of one delivery, so a receiver can drop duplicates. */
  deliver(notification: AlertNotification, deliveryId: string): Promise<void>;
  close?(): Promise<void>;
}
