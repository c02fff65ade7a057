import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** One message the loopback SMTP server took, parsed by mailparser, with its envelope recipients. */
export interface ReceivedMail {
  readonly mail: ParsedMail;
  readonly rcptTo: readonly string[];
}

/** A real SMTP server on 127.0.0.1 (smtp-server; no STARTTLS, no AUTH) that keeps what it receives. */
export interface LoopbackSmtp {
  readonly port: number;
  readonly received: ReceivedMail[];
  stop(): Promise<void>;
}

export async function startLoopbackSmtp(): Promise<LoopbackSmtp> {
  const received: ReceivedMail[] = [];
  const server = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS', 'AUTH'],
    closeTimeout: 200,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        simpleParser(Buffer.concat(chunks)).then(
          (mail) => {
            received.push({ mail, rcptTo: session.envelope.rcptTo.map((rcpt) => rcpt.address) });
            callback();
          },
          (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
        );
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return { port, received, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Latchkey's `smtp` settings (as LATCHKEY_* variables) pointing at the loopback server, plain text. */
export function smtpEnv(smtp: LoopbackSmtp): Record<string, string> {
  return {
    LATCHKEY_SMTP__HOST: '127.0.0.1',
    LATCHKEY_SMTP__PORT: String(smtp.port),
    LATCHKEY_SMTP__SECURE: 'false',
    LATCHKEY_SMTP__REQUIRE_TLS: 'false',
    LATCHKEY_SMTP__FROM: 'Latchkey <no-reply@latchkey.test>',
    LATCHKEY_SMTP__TIMEOUT_MS: '2000',
  };
}

const CODE = /:\s*(\d{6,10})\b/;

/** The mails to `to` that carry a one-time code (notices of changes and resets carry none), oldest first. */
export function codeMailsTo(smtp: LoopbackSmtp, to: string): ParsedMail[] {
  return smtp.received.filter((item) => item.rcptTo.includes(to) && CODE.test(item.mail.text ?? '')).map((item) => item.mail);
}

/**
 * Waits for code mail number `seen` + 1 to `to` on the SMTP server, running `deliver` (the outbox
 * worker's drain) between looks, and returns the one-time code in its text part.
 */
export async function nextCodeFrom(smtp: LoopbackSmtp, to: string, seen: number, deliver: () => Promise<unknown>, timeoutMs = 5_000): Promise<{ code: string; mail: ParsedMail }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await deliver();
    const mail = codeMailsTo(smtp, to)[seen];
    const code = mail ? CODE.exec(mail.text ?? '')?.[1] : undefined;
    if (mail && code) return { code, mail };
    if (Date.now() > deadline) throw new Error(`code mail #${seen + 1} never reached the SMTP server for ${to} (it has ${smtp.received.length} mails in all)`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
