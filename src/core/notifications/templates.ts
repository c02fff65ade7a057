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

/**
 * Tells a security admin that a privileged account was reset or unlocked by self-service, and,
 * when the recovery is held, that a second admin must confirm it before the deadline.
 */
export function privilegedRecoveryAdminNotice(
  organisation: string,
  kind: 'reset' | 'unlock',
  username: string,
  to: string,
  at: Date,
  ip: string,
  hold: { readonly id: string; readonly deadlineAt: Date } | null,
): OutboundMessage {
  const what = kind === 'reset' ? 'had its password reset' : 'was unlocked';
  const holdText = hold
    ? `\nThe account is held: it gets no further self-service until a second admin confirms this recovery (hold ${hold.id}) before ${describeWhen(hold.deadlineAt)}:\n  POST /api/admin/privileged-holds/${hold.id}/confirm\nUnconfirmed, the hold stays and the alert is escalated.\n`
    : '';
  return compose(
    'email',
    to,
    'security_alert',
    `${organisation}: privileged account ${username} ${what}`,
    `The privileged account ${username} ${what} through self-service at ${describeWhen(at)} from address ${ip}.\n${holdText}\nIf this was not expected, contact the account's owner through a known channel and treat the account as compromised.\n`,
    '',
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
  dispute: { readonly url: string; readonly expiresAt: Date } | null,
): OutboundMessage {
  const what = `A recovery method (${methodLabel}) was ${change} on your account`;
  if (!dispute) {
    return compose(
      channel,
      to,
      'enrollment_notice',
      `${organisation}: a recovery method was ${change}`,
      `${what} at ${describeWhen(at)} from address ${ip}.\n\nIf this was you, there is nothing to do.\nIf it was not you, contact your helpdesk now.\n`,
      `${organisation}: a recovery method was ${change} at ${describeWhen(at)}. Not you? Call your helpdesk.`,
    );
  }
  return compose(
    channel,
    to,
    'enrollment_notice',
    `${organisation}: a recovery method was ${change}`,
    `${what} at ${describeWhen(at)} from address ${ip}.\n\nIf this was you, there is nothing to do.\nIf it was not you, open this link: it undoes the change and stops all self-service for your account until the helpdesk has checked it (it works once, until ${describeWhen(dispute.expiresAt)}):\n${dispute.url}\n\nThen contact your helpdesk.\n`,
    `${organisation}: a recovery method was ${change} at ${describeWhen(at)}. Not you? ${dispute.url}`,
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

/** Told on every channel of record when a pass is issued (SESS-4): no pass, only that one exists. */
export function accessPassIssuedNotice(organisation: string, channel: MessageChannelKind, to: string, at: Date, validFrom: Date, expiresAt: Date): OutboundMessage {
  return compose(
    channel,
    to,
    'enrollment_notice',
    `${organisation}: a temporary access pass was issued for your account`,
    `A temporary access pass for your account was issued at ${describeWhen(at)}. It works from ${describeWhen(validFrom)} until ${describeWhen(expiresAt)}.\n\nIf you asked the helpdesk for it, or you are starting with us, there is nothing to do.\nIf not, contact your helpdesk now: someone may be trying to take over your account.\n`,
    `${organisation}: a temporary access pass was issued for your account at ${describeWhen(at)}. Not you? Call your helpdesk now.`,
  );
}

/**
 * A day-one pass, whole or one half, for the person to type at the first sign-in. `part` names
 * which half it is, so the person knows the order; a half alone is useless.
 */
export function accessPassDelivery(
  organisation: string,
  to: string,
  input: { readonly username: string; readonly passText: string; readonly part: 'whole' | 'first_half' | 'second_half'; readonly validFrom: Date; readonly expiresAt: Date; readonly forManager: boolean },
): OutboundMessage {
  const which = input.part === 'whole' ? 'the temporary access pass' : input.part === 'first_half' ? 'PART 1 of 2 of the temporary access pass' : 'PART 2 of 2 of the temporary access pass';
  const who = input.forManager ? `Please give it to ${input.username} in person on their first day.` : `It is for your first sign-in as ${input.username}.`;
  const typing = input.part === 'whole' ? 'Type it at the first sign-in.' : 'At the first sign-in, type part 1 followed by part 2 as one pass; the other part is sent separately, and neither works alone.';
  return compose(
    'email',
    to,
    'access_pass',
    `${organisation}: ${input.part === 'whole' ? 'temporary access pass' : input.part === 'first_half' ? 'temporary access pass, part 1 of 2' : 'temporary access pass, part 2 of 2'} for ${input.username}`,
    `This is ${which} for ${input.username}: ${input.passText}\n\n${who} ${typing}\nIt works from ${describeWhen(input.validFrom)} until ${describeWhen(input.expiresAt)}, once. The first sign-in asks to register recovery methods.\n`,
    '',
  );
}

/** The link a manager follows to approve a helpdesk pass for one of their people. */
export function helpdeskApprovalRequest(organisation: string, to: string, input: { readonly username: string; readonly link: string; readonly expiresAt: Date }): OutboundMessage {
  return compose(
    'email',
    to,
    'helpdesk_approval',
    `${organisation}: approve a temporary access pass for ${input.username}?`,
    `The helpdesk is asked to issue a temporary access pass for ${input.username}, who says they lost access to their sign-in methods.\n\nIf you have confirmed with ${input.username} that this is them, open this link and press Approve:\n${input.link}\n\nThe link works once, until ${describeWhen(input.expiresAt)}. If you did not expect this, do nothing and tell your security team.\n`,
    '',
  );
}
