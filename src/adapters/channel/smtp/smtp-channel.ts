import nodemailer from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import {
  PermanentDeliveryError,
  type MessageChannel,
  type OutboundMessage,
} from '../../../core/ports/message-channel.ts';
import { maskEmail, scrub } from '../redact.ts';

/**
 * How to reach the SMTP relay that sends Latchkey's email. Optional fields accept `undefined` so a
 * config object parsed by zod (`smtpConfigSchema`) can be passed straight in.
 */
export interface SmtpConfig {
  readonly host: string;
  readonly port: number;
  /** `true` for implicit TLS (port 465); `false` for plain SMTP upgraded with STARTTLS. */
  readonly secure: boolean;
  /**
   * With `secure: false`, refuse to send unless the server upgrades with STARTTLS. Defaults to
   * `true`: the messages carry one-time codes, so falling back to cleartext must be an explicit
   * choice (a local test relay, say).
   */
  readonly requireTls?: boolean | undefined;
  readonly user?: string | undefined;
  readonly password?: string | undefined;
  /** The From header, e.g. `Latchkey <no-reply@example.org>`. */
  readonly from: string;
  readonly tls?:
    | {
        readonly rejectUnauthorized?: boolean | undefined;
        /** PEM bundle of the CA(s) to trust for the relay, for a private CA. */
        readonly ca?: string | undefined;
      }
    | undefined;
  /** Connect, greeting and inactivity timeout in milliseconds (default 15000). */
  readonly timeoutMs?: number | undefined;
}

const DEFAULT_TIMEOUT_MS = 15_000;

/**
 * A recipient we are willing to hand to SMTP: one bare addr-spec, no display name, no quoting, no
 * whitespace, no list separators. Anything richer is not an address of record and may be an
 * attempt to smuggle extra recipients or headers, so it is refused rather than parsed.
 */
const ADDRESS =
  /^[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+(?:\.[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+)*@[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)*$/u;

// eslint-disable-next-line no-control-regex -- line breaks and other controls are what we refuse
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Throws PermanentDeliveryError unless `to` is a single plain address; resending cannot fix it. */
function assertSingleAddress(to: string): void {
  const at = to.lastIndexOf('@');
  if (to.length > 254 || at > 64 || CONTROL.test(to) || !ADDRESS.test(to)) {
    throw new PermanentDeliveryError(`smtp: refused recipient ${maskEmail(to)}: not a single plain address`);
  }
}

interface SmtpFailure {
  readonly message: string;
  readonly code?: unknown;
  readonly responseCode?: unknown;
  readonly command?: unknown;
}

const isSmtpFailure = (error: unknown): error is SmtpFailure =>
  error instanceof Error || (typeof error === 'object' && error !== null && 'message' in error);

/** Nodemailer's codes for replies about this message's envelope (MAIL FROM, RCPT TO) or content (DATA). */
const MESSAGE_LEVEL_CODES = new Set(['EENVELOPE', 'EMESSAGE']);

/**
 * Turns a nodemailer failure into the port's contract. A 5xx reply to this message's envelope or
 * content (unknown user, policy refusal) is the server saying "never", so it becomes
 * PermanentDeliveryError. Everything else stays a plain (retryable) error: 4xx replies, and also
 * 5xx replies about the session (bad credentials, no STARTTLS), because those are relay or config
 * faults an operator fixes, after which the queued messages (security notices among them) should
 * still go out. The original error is not chained: it carries the full recipient list, and its
 * message is server-chosen text that we only keep after masking the address.
 */
function toDeliveryError(error: unknown, to: string): Error {
  const masked = maskEmail(to);
  if (!isSmtpFailure(error)) return new Error(`smtp: delivery to ${masked} failed`);
  const detail = scrub(String(error.message), to, masked);
  const code = typeof error.code === 'string' ? error.code : 'EUNKNOWN';
  const command = typeof error.command === 'string' ? ` at ${error.command}` : '';
  const reply = typeof error.responseCode === 'number' ? error.responseCode : undefined;
  const summary = `smtp: delivery to ${masked} failed (${code}${reply === undefined ? '' : ` ${reply}`}${command}): ${detail}`;
  const permanent = reply !== undefined && reply >= 500 && reply < 600 && MESSAGE_LEVEL_CODES.has(code);
  return permanent ? new PermanentDeliveryError(summary) : new Error(summary);
}

/**
 * Creates the email channel that sends through an SMTP relay, over a small connection pool.
 *
 * Messages go out as plain text only, with the subject and text from the OutboundMessage and
 * nothing else from it, and with `Auto-Submitted: auto-generated` so vacation responders stay
 * quiet. Why: a reset mail has no need for HTML, and every extra input is an injection surface.
 * The recipient is checked to be exactly one address before anything is sent. Nodemailer's logger
 * is off, so the body (which may carry a code) is never logged.
 */
export function createSmtpChannel(config: SmtpConfig): MessageChannel {
  if (CONTROL.test(config.from)) throw new Error('smtp: the from address must not contain line breaks');
  const timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const tls: { rejectUnauthorized?: boolean; ca?: string } = {};
  if (config.tls?.rejectUnauthorized !== undefined) tls.rejectUnauthorized = config.tls.rejectUnauthorized;
  if (config.tls?.ca !== undefined) tls.ca = config.tls.ca;

  const options: SMTPPool.Options = {
    pool: true,
    maxConnections: 3,
    maxMessages: 100,
    host: config.host,
    port: config.port,
    secure: config.secure,
    requireTLS: !config.secure && (config.requireTls ?? true),
    tls,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    dnsTimeout: timeoutMs,
    // Logging is off on purpose: nodemailer's debug output would include the message body.
    logger: false,
    debug: false,
    transactionLog: false,
    // The message is built from templates; nothing may make nodemailer read files or fetch URLs.
    disableFileAccess: true,
    disableUrlAccess: true,
  };
  if (config.user !== undefined) {
    options.auth = { user: config.user, pass: config.password ?? '' };
  }
  const transporter = nodemailer.createTransport(options);
  // An EventEmitter 'error' without a listener would crash the process; send() reports failures.
  transporter.on('error', () => undefined);

  return {
    kind: 'email',
    name: 'smtp',
    async send(message: OutboundMessage) {
      if (message.channel !== 'email') {
        throw new PermanentDeliveryError(`smtp: cannot send a ${message.channel} message`);
      }
      assertSingleAddress(message.to);
      if (CONTROL.test(message.subject)) {
        throw new PermanentDeliveryError('smtp: the subject contains line breaks or control characters');
      }
      try {
        const info = await transporter.sendMail({
          from: config.from,
          to: message.to,
          subject: message.subject,
          text: message.text,
          headers: {
            // RFC 3834: tells responders this is machine mail; the Microsoft header does the same
            // for Exchange, which ignores Auto-Submitted.
            'Auto-Submitted': 'auto-generated',
            'X-Auto-Response-Suppress': 'All',
          },
        });
        return { providerMessageId: typeof info.messageId === 'string' && info.messageId !== '' ? info.messageId : null };
      } catch (error) {
        throw toDeliveryError(error, message.to);
      }
    },
    close() {
      transporter.close();
      return Promise.resolve();
    },
  };
}
