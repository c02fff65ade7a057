import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import {
  PermanentDeliveryError,
  type MessageChannel,
  type OutboundMessage,
} from '../../src/core/ports/message-channel.ts';
import { createSmtpChannel, type SmtpConfig } from '../../src/adapters/channel/smtp/smtp-channel.ts';

interface Envelope {
  readonly mailFrom: string | false;
  readonly rcptTo: readonly string[];
}

interface LocalSmtp {
  readonly port: number;
  readonly received: { readonly mail: ParsedMail; readonly raw: string; readonly envelope: Envelope; readonly overTls: boolean }[];
  /** Every SMTP command that touched the server, for "nothing reached it" assertions. */
  readonly events: string[];
  stop(): Promise<void>;
}

/** A real SMTP server on loopback: no STARTTLS, optional AUTH PLAIN, recipients steered by name. */
async function startSmtp(extra: Partial<SMTPServerOptions> = {}): Promise<LocalSmtp> {
  const received: LocalSmtp['received'] = [];
  const events: string[] = [];
  const server = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    allowInsecureAuth: true,
    closeTimeout: 200,
    onConnect(_session, callback) {
      events.push('connect');
      callback();
    },
    onMailFrom(address, _session, callback) {
      events.push(`mail:${address.address}`);
      callback();
    },
    onRcptTo(address, _session, callback) {
      events.push(`rcpt:${address.address}`);
      if (address.address.startsWith('unknown')) {
        callback(Object.assign(new Error('5.1.1 <' + address.address + '>: no such mailbox'), { responseCode: 550 }));
        return;
      }
      if (address.address.startsWith('greylisted')) {
        callback(Object.assign(new Error('4.7.1 <' + address.address + '>: try again later'), { responseCode: 451 }));
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const envelope: Envelope = {
          mailFrom: session.envelope.mailFrom === false ? false : session.envelope.mailFrom.address,
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
        };
        simpleParser(raw).then(
          (mail) => {
            received.push({ mail, raw, envelope, overTls: session.secure });
            callback();
          },
          (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
        );
      });
    },
    ...extra,
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    port,
    received,
    events,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  // Channels first (their pooled connections send QUIT), then the servers they talk to.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(
  serverOptions: Partial<SMTPServerOptions> = {},
  channelOptions: Partial<SmtpConfig> = {},
): Promise<{ smtp: LocalSmtp; channel: MessageChannel }> {
  const smtp = await startSmtp(serverOptions);
  cleanups.push(() => smtp.stop());
  const channel = createSmtpChannel({
    host: '127.0.0.1',
    port: smtp.port,
    secure: false,
    requireTls: false,
    from: 'Latchkey <no-reply@latchkey.test>',
    timeoutMs: 2_000,
    ...channelOptions,
  });
  cleanups.push(async () => channel.close?.());
  return { smtp, channel };
}

const message = (overrides: Partial<OutboundMessage> = {}): OutboundMessage => ({
  channel: 'email',
  to: 'alice@example.test',
  subject: 'Your Latchkey code',
  text: 'Your code is 482916.\nIt expires in 10 minutes.\n',
  purpose: 'challenge_code',
  ...overrides,
});

describe('SMTP channel', () => {
  it('delivers a plain-text message whose recipient, sender, subject and text arrive exactly as sent', async () => {
    const { smtp, channel } = await setUp();
    const text = 'Bonjour Zoë, votre code est 482916.\nIl expire dans 10 minutes — ne le partagez pas.\n';
    const result = await channel.send(message({ subject: 'Votre code Latchkey : 482916 ✓', text }));

    expect(smtp.received).toHaveLength(1);
    const [first] = smtp.received;
    const mail = first?.mail;
    expect(first?.envelope).toEqual({ mailFrom: 'no-reply@latchkey.test', rcptTo: ['alice@example.test'] });
    expect(mail?.to).toMatchObject({ value: [{ address: 'alice@example.test' }] });
    expect(mail?.from?.value).toEqual([{ address: 'no-reply@latchkey.test', name: 'Latchkey' }]);
    expect(mail?.subject).toBe('Votre code Latchkey : 482916 ✓');
    expect(mail?.text).toBe(text);
    expect(mail?.html).toBe(false);
    expect(mail?.attachments).toEqual([]);
    expect(mail?.headers.get('auto-submitted')).toBe('auto-generated');
    expect(mail?.headers.has('bcc')).toBe(false);
    expect(mail?.headers.has('cc')).toBe(false);
    expect(result.providerMessageId).toBe(mail?.messageId);
    expect(result.providerMessageId).toMatch(/^<.+@.+>$/);
  });

  it('authenticates with AUTH PLAIN using the configured user and password', async () => {
    const logins: { username: string | null | undefined; password: string | null | undefined; method: string }[] = [];
    const { smtp, channel } = await setUp(
      {
        authOptional: false,
        authMethods: ['PLAIN'],
        onAuth(auth, _session, callback) {
          logins.push({ username: auth.username, password: auth.password, method: auth.method });
          if (auth.username === 'latchkey' && auth.password === 's3cret-relay-pass') callback(null, { user: 'latchkey' });
          else callback(new Error('Invalid username or password'));
        },
      },
      { user: 'latchkey', password: 's3cret-relay-pass' },
    );

    await channel.send(message());

    expect(logins).toEqual([{ username: 'latchkey', password: 's3cret-relay-pass', method: 'PLAIN' }]);
    expect(smtp.received).toHaveLength(1);
  });

  it('treats credentials the server rejects with 535 as a retryable relay fault, not a permanent refusal of the message', async () => {
    const { smtp, channel } = await setUp(
      {
        authOptional: false,
        authMethods: ['PLAIN'],
        onAuth(_auth, _session, callback) {
          callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
        },
      },
      { user: 'latchkey', password: 'wrong' },
    );

    const error = await channel.send(message()).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );

    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    expect(String((error as Error).message)).toContain('535');
    expect(smtp.received).toHaveLength(0);
  });

  it.each([
    ['a CRLF that would add a Bcc header', 'a@b.test\r\nBcc: evil@evil.test'],
    ['a bare LF that would add a header', 'a@b.test\nBcc: evil@evil.test'],
    ['a comma-separated second recipient', 'a@b.test,evil@evil.test'],
    ['a semicolon-separated second recipient', 'a@b.test;evil@evil.test'],
    ['a display name with a different address', '"a@b.test" <evil@evil.test>'],
    ['an address with spaces', 'a@b.test evil@evil.test'],
    ['a string without an at sign', 'not-an-address'],
  ])('refuses a recipient with %s and sends nothing to the server', async (_label, to) => {
    const { smtp, channel } = await setUp();

    await expect(channel.send(message({ to }))).rejects.toBeInstanceOf(PermanentDeliveryError);

    expect(smtp.events).toEqual([]);
    expect(smtp.received).toEqual([]);
  });

  it('refuses a subject with a line break, which could otherwise inject a header', async () => {
    const { smtp, channel } = await setUp();

    await expect(channel.send(message({ subject: 'Code\r\nBcc: evil@evil.test' }))).rejects.toBeInstanceOf(
      PermanentDeliveryError,
    );
    expect(smtp.events).toEqual([]);
  });

  it('reports a 550 for the recipient as a permanent failure whose message masks the address', async () => {
    const { smtp, channel } = await setUp();

    const error = await channel.send(message({ to: 'unknown.person@example.test' })).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );

    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(String((error as Error).message)).toContain('550');
    expect(String((error as Error).message)).not.toContain('unknown.person@example.test');
    expect(smtp.received).toHaveLength(0);
  });

  it('reports a 451 for the recipient as a retryable failure, not a permanent one', async () => {
    const { smtp, channel } = await setUp();

    const error = await channel.send(message({ to: 'greylisted@example.test' })).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );

    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    expect(String((error as Error).message)).toContain('451');
    expect(String((error as Error).message)).not.toContain('greylisted@example.test');
    expect(smtp.received).toHaveLength(0);
  });

  it('keeps working on the pooled connection after a refused recipient', async () => {
    const { smtp, channel } = await setUp();

    await expect(channel.send(message({ to: 'unknown@example.test' }))).rejects.toBeInstanceOf(PermanentDeliveryError);
    await channel.send(message({ to: 'bob@example.test' }));

    expect(smtp.received.map((r) => r.envelope.rcptTo)).toEqual([['bob@example.test']]);
  });

  it('refuses to send in cleartext by default when the server offers no STARTTLS, as a retryable failure', async () => {
    const { smtp, channel } = await setUp({}, { requireTls: undefined });

    const error = await channel.send(message()).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );

    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    expect(String((error as Error).message)).toContain('STARTTLS');
    expect(smtp.events.filter((event) => event.startsWith('mail:'))).toEqual([]);
    expect(smtp.received).toHaveLength(0);
  });

  it('reports a 554 refusing the message content as a permanent failure', async () => {
    const { smtp, channel } = await setUp({
      onData(stream, _session, callback) {
        stream.resume();
        stream.on('end', () => callback(Object.assign(new Error('5.7.1 message refused by policy'), { responseCode: 554 })));
      },
    });

    await expect(channel.send(message())).rejects.toBeInstanceOf(PermanentDeliveryError);
    expect(smtp.events).toContain('rcpt:alice@example.test');
  });

  it('upgrades with STARTTLS by default and delivers when the relay certificate is trusted by config', async () => {
    // smtp-server presents its bundled self-signed certificate; trusting it stands in for a private CA.
    const { smtp, channel } = await setUp(
      { disabledCommands: [] },
      { requireTls: undefined, tls: { rejectUnauthorized: false } },
    );

    await channel.send(message());

    expect(smtp.received).toHaveLength(1);
    expect(smtp.received[0]?.overTls).toBe(true);
    expect(smtp.received[0]?.mail.text).toBe(message().text);
  });

  it('verifies the relay certificate by default and fails retryably when it is not trusted', async () => {
    const { smtp, channel } = await setUp({ disabledCommands: [] }, { requireTls: undefined });

    const error = await channel.send(message()).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );

    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    expect(smtp.received).toHaveLength(0);
  });

  it('reports an unreachable relay as a retryable failure', async () => {
    const smtp = await startSmtp();
    const port = smtp.port;
    await smtp.stop();
    const channel = createSmtpChannel({
      host: '127.0.0.1',
      port,
      secure: false,
      requireTls: false,
      from: 'no-reply@latchkey.test',
      timeoutMs: 1_000,
    });
    cleanups.push(async () => channel.close?.());

    const error = await channel.send(message()).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );

    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(PermanentDeliveryError);
  });

  it('refuses an SMS message handed to the email channel', async () => {
    const { smtp, channel } = await setUp();

    await expect(channel.send(message({ channel: 'sms', to: '+15551234567' }))).rejects.toBeInstanceOf(
      PermanentDeliveryError,
    );
    expect(smtp.events).toEqual([]);
  });
});
