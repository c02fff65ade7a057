import type { OutboundMessage, MessageChannelKind, MessagePurpose } from '../ports/message-channel.ts';

/*
 * Notification texts. Built only from fixed wording and server-side facts, never from request
 * input or directory display names (INP-2, INP-8), and never carrying a code or password (PWD-7).
 */

const describeWhen = (at: Date): string => at.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');

const compose = (channel: MessageChannelKind, to: string, purpose: MessagePurpose, subject: string, emailText: string, smsText: string): OutboundMessage => ({
  channel,
  to,
  subject,
  text: channel === 'email' ? emailText : smsText,
  purpose,
});

export function recoveryNotice(
  organisation: string,
  kind: 'reset' | 'unlock',
  channel: MessageChannelKind,
  to: string,
  at: Date,
  ip: string,
): OutboundMessage {
  const what = kind === 'reset' ? 'The password of your account was reset' : 'Your account was unlocked';
  return compose(
    channel,
    to,
    'recovery_notice',
    `${organisation}: ${kind === 'reset' ? 'your password was reset' : 'your account was unlocked'}`,
    `${what} at ${describeWhen(at)} from address ${ip}.\n\nIf this was you, there is nothing to do.\nIf it was not you, contact your helpdesk now: someone may have taken over your account.\n`,
    `${organisation}: ${what.toLowerCase()} at ${describeWhen(at)}. Not you? Call your helpdesk now.`,
  );
}

export function enrollmentNotice(
  organisation: string,
  change: 'added' | 'removed',
  methodLabel: string,
  channel: MessageChannelKind,
  to: string,
  at: Date,
  ip: string,
): OutboundMessage {
  const what = `A recovery method (${methodLabel}) was ${change} on your account`;
  return compose(
    channel,
    to,
    'enrollment_notice',
    `${organisation}: a recovery method was ${change}`,
    `${what} at ${describeWhen(at)} from address ${ip}.\n\nIf this was you, there is nothing to do.\nIf it was not you, contact your helpdesk now.\n`,
    `${organisation}: a recovery method was ${change} at ${describeWhen(at)}. Not you? Call your helpdesk.`,
  );
}

export function interruptedNotice(organisation: string, kind: 'reset' | 'unlock', channel: MessageChannelKind, to: string, at: Date): OutboundMessage {
  const what = kind === 'reset' ? 'A password reset of your account' : 'An unlock of your account';
  return compose(
    channel,
    to,
    'recovery_notice',
    `${organisation}: a ${kind === 'reset' ? 'password reset' : 'account unlock'} was interrupted`,
    `${what} was interrupted at ${describeWhen(at)}; it may or may not have taken effect.\n\nIf you were resetting your password, try signing in, and start again if the new password does not work.\nIf it was not you, contact your helpdesk now: someone may be trying to take over your account.\n`,
    `${organisation}: ${what.toLowerCase()} was interrupted at ${describeWhen(at)}. Not you? Call your helpdesk now.`,
  );
}
