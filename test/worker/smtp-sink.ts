import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** How the sink answers RCPT TO: accept, ask to retry later (451), or refuse for good (550). */
export type SmtpVerdict = 'accept' | 'retry-later' | 'refuse';

export interface ReceivedMail {
  readonly mail: ParsedMail;
  readonly envelope: { readonly mailFrom: string | false; readonly rcptTo: readonly string[] };
}

export interface SmtpSink {
  readonly port: number;
  readonly received: ReceivedMail[];
  verdict: SmtpVerdict;
  stop(): Promise<void>;
}

/**
 * A real SMTP server on 127.0.0.1 and an ephemeral port: no TLS, no AUTH, every message parsed
 * with mailparser. `verdict` decides the answer to each recipient, so a test can make the relay
 * greylist or refuse.
 */
export async function startSmtpSink(): Promise<SmtpSink> {
  const received: ReceivedMail[] = [];
  const server = new SMTPServer({
    logger: false,
    secure: false,
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    closeTimeout: 200,
    onRcptTo(address, _session, callback) {
      if (sink.verdict === 'retry-later') {
        callback(Object.assign(new Error('4.7.1 greylisted, try again later'), { responseCode: 451 }));
        return;
      }
      if (sink.verdict === 'refuse') {
        callback(Object.assign(new Error('5.1.1 no such mailbox here'), { responseCode: 550 }));
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        simpleParser(Buffer.concat(chunks)).then(
          (mail) => {
            received.push({
              mail,
              envelope: {
                mailFrom: session.envelope.mailFrom === false ? false : session.envelope.mailFrom.address,
                rcptTo: session.envelope.rcptTo.map((recipient) => recipient.address),
              },
            });
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
  const sink: SmtpSink = {
    port: (server.server.address() as AddressInfo).port,
    received,
    verdict: 'accept',
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return sink;
}
