import { createHmac } from 'node:crypto';
import type { AlertDeliverer } from '../../core/monitoring/alerts/alert-deliverer.ts';
import { notificationText, notificationTitle, type AlertNotification } from '../../core/monitoring/alerts/notification.ts';
import { PermanentDeliveryError } from '../../core/ports/message-channel.ts';
import type { Clock } from '../../core/ports/system.ts';

export type WebhookFormat = 'json' | 'slack';

export interface WebhookTargetConfig {
  readonly url: string;
  /** The HMAC-SHA256 key shared with the receiver. */
  readonly secret: string;
  readonly format: WebhookFormat;
  readonly timeoutMs: number;
}

/** The header that carries the signature: `t=<unix seconds>,v1=<hex HMAC-SHA256>`. */
export const SIGNATURE_HEADER = 'x-latchkey-signature';

/**
 * Signs a webhook body: HMAC-SHA256 under the shared secret over `<t>.<body bytes>`, where `t` is
 * the unix time in seconds also sent in the header.
 *
 * SECURITY: the timestamp is inside the MAC, so a receiver that refuses signatures older than a few
 * minutes cannot be fed a captured request again later (replay), and the MAC covers the exact bytes
 * sent, so no re-serialisation on either side can make a tampered body verify.
 */
export function signWebhookBody(secret: string, unixSeconds: number, body: string | Buffer): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.`).update(body).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** Slack's mrkdwn needs `&`, `<` and `>` escaped, or text could turn into links and mentions. */
const slackEscape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The request body for a format; what is signed and sent is exactly this string. */
export function webhookBody(format: WebhookFormat, notification: AlertNotification, deliveryId: string): string {
  if (format === 'json') return JSON.stringify({ version: 1, deliveryId, ...notification });
  const title = notificationTitle(notification);
  const context = notification.kind === 'alert' ? `Alert \`${notification.alert.id}\` · detector \`${slackEscape(notification.alert.detectorId)}\`` : `Notification \`${notification.id}\``;
  return JSON.stringify({
    text: slackEscape(title),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: title.slice(0, 150) } },
      { type: 'section', text: { type: 'mrkdwn', text: slackEscape(notificationText(notification)).slice(0, 2900) } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: context }] },
    ],
  });
}

/** Names a network failure by its code only: undici's messages can carry the URL. */
function networkReason(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return 'timeout';
  const cause = error instanceof Error ? error.cause : undefined;
  if (typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string') return cause.code;
  return 'network error';
}

/**
 * POSTs signed alert notifications to one webhook. 2xx is delivered; 4xx other than 408 and 429 is
 * permanent (the receiver refused this very request); anything else, timeouts and network failures
 * are retried. Redirects are not followed: a signed request goes only where it was configured.
 *
 * SECURITY: error messages name the target and the status or network code only, never the URL: chat
 * webhook URLs (Slack's among them) carry their credential in the path, and errors are stored and
 * audited.
 */
export function createWebhookDeliverer(name: string, config: WebhookTargetConfig, clock: Clock): AlertDeliverer {
  const target = `webhook:${name}`;
  return {
    target,
    async deliver(notification, deliveryId) {
      const body = webhookBody(config.format, notification, deliveryId);
      const signature = signWebhookBody(config.secret, Math.floor(clock.now().getTime() / 1000), body);
      let status: number;
      try {
        const signal = AbortSignal.timeout(config.timeoutMs);
        const response = await fetch(config.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'Latchkey-Alerts/1',
            [SIGNATURE_HEADER]: signature,
            'x-latchkey-delivery': deliveryId,
            'x-latchkey-event': notification.kind === 'alert' ? 'alert' : 'alerts_suppressed',
          },
          body,
          redirect: 'manual',
          signal,
        });
        // Drained within the same deadline, so a receiver that stalls mid-body also times out.
        await response.arrayBuffer();
        status = response.status;
      } catch (error) {
        throw new Error(`${target}: ${networkReason(error)}`);
      }
      if (status >= 200 && status < 300) return;
      const summary = `${target}: HTTP ${status}`;
      throw status >= 400 && status < 500 && status !== 408 && status !== 429 ? new PermanentDeliveryError(summary) : new Error(summary);
    },
  };
}
