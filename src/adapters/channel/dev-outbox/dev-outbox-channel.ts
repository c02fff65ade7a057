import {
  PermanentDeliveryError,
  type MessageChannel,
  type MessageChannelKind,
  type OutboundMessage,
} from '../../../core/ports/message-channel.ts';

/** The `name` of the dev-outbox channel; the outbox worker keeps the payload of rows sent through it. */
export const DEV_OUTBOX_CHANNEL_NAME = 'dev-outbox';

/**
 * Creates a channel that accepts every message and sends nothing. The message stays readable in
 * the outbox table instead (the worker keeps the payload when the channel is `dev-outbox`), so a
 * developer can complete a flow without a mail relay or SMS provider. Why a real channel rather
 * than a flag in the worker: the worker stays one code path whichever providers are configured.
 */
export function createDevOutboxChannel(kind: MessageChannelKind): MessageChannel {
  return {
    kind,
    name: DEV_OUTBOX_CHANNEL_NAME,
    send(message: OutboundMessage) {
      // A message routed to the wrong channel is a wiring bug; surfacing it beats hiding it.
      if (message.channel !== kind) {
        return Promise.reject(new PermanentDeliveryError(`dev-outbox: cannot take a ${message.channel} message on the ${kind} channel`));
      }
      return Promise.resolve({ providerMessageId: null });
    },
  };
}
