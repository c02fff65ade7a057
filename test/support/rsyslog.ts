import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/*
 * A real rsyslogd on loopback for tests: its own temp directory, config, pid file and free port,
 * imtcp with octet-counted framing (and the gtls stream driver with a throwaway CA when `tls`),
 * every received message written raw (%rawmsg%, without the frame's length prefix) one per line.
 */

export interface Rsyslog {
  readonly host: string;
  readonly port: number;
  /** The CA that signed the server certificate (TLS only). */
  readonly caFile?: string;
  /** Every message received so far, oldest first. */
  messages(): Promise<string[]>;
  /** Resolves with the messages once `predicate` holds for them; rejects after `timeoutMs`. */
  waitFor(predicate: (messages: readonly string[]) => boolean, timeoutMs: number): Promise<string[]>;
  /** Stops rsyslogd (SIGTERM: it flushes and exits) and removes its directory. */
  stop(): Promise<void>;
  /** Stops rsyslogd and starts it again on the same port, keeping the messages received so far. */
  restart(): Promise<void>;
  /** Stops rsyslogd without removing anything, for tests of a collector that is down. */
  pause(): Promise<void>;
  /** Starts a paused rsyslogd again on the same port. */
  resume(): Promise<void>;
}

const RSYSLOGD = '/usr/sbin/rsyslogd';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A throwaway CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI. */
function makeCertificates(dir: string): { caFile: string; certFile: string; keyFile: string } {
  const caKey = join(dir, 'ca-key.pem');
  const caFile = join(dir, 'ca.pem');
  const keyFile = join(dir, 'server-key.pem');
  const csr = join(dir, 'server.csr');
  const certFile = join(dir, 'server.pem');
  const ext = join(dir, 'server.ext');
  const run = (args: string[]): void => {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', '/CN=Latchkey test CA']);
  run(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', '/CN=localhost']);
  execFileSync('sh', ['-c', `printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n' > '${ext}'`]);
  run(['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', ext]);
  return { caFile, certFile, keyFile };
}

export async function startRsyslog(options: { tls?: boolean } = {}): Promise<Rsyslog> {
  if (!existsSync(RSYSLOGD)) throw new Error('rsyslogd is not installed (scripts/test.sh installs rsyslog and rsyslog-gnutls)');
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-rsyslog-'));
  const host = '127.0.0.1';
  const port = await freePort();
  const logFile = join(dir, 'messages.log');
  const configFile = join(dir, 'rsyslog.conf');
  const pidFile = join(dir, 'rsyslogd.pid');
  const certificates = options.tls ? makeCertificates(dir) : null;
  const globals = certificates
    ? `global(workDirectory="${dir}" defaultNetstreamDriverCAFile="${certificates.caFile}" defaultNetstreamDriverCertFile="${certificates.certFile}" defaultNetstreamDriverKeyFile="${certificates.keyFile}")`
    : `global(workDirectory="${dir}")`;
  const imtcp = certificates ? 'module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")' : 'module(load="imtcp")';
  await writeFile(
    configFile,
    [
      globals,
      imtcp,
      `input(type="imtcp" address="${host}" port="${port}")`,
      'template(name="raw" type="string" string="%rawmsg%\\n")',
      `*.* action(type="omfile" file="${logFile}" template="raw")`,
      '',
    ].join('\n'),
  );

  let child: ChildProcess | null = null;
  let stderr = '';

  const listening = async (): Promise<boolean> => {
    const { connect } = await import('node:net');
    return new Promise((resolve) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  };

  const launch = async (): Promise<void> => {
    stderr = '';
    const started = spawn(RSYSLOGD, ['-n', '-f', configFile, '-i', pidFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    started.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child = started;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (started.exitCode !== null) throw new Error(`rsyslogd exited with ${started.exitCode}: ${stderr}`);
      if (await listening()) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    started.kill('SIGKILL');
    throw new Error(`rsyslogd did not listen on ${host}:${port} within 10 s: ${stderr}`);
  };

  const halt = async (): Promise<void> => {
    const running = child;
    child = null;
    if (running === null || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill('SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  const messages = async (): Promise<string[]> => {
    const text = await readFile(logFile, 'utf8').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? '' : Promise.reject(error)));
    return text.split('\n').filter((line) => line !== '');
  };

  await launch();
  return {
    host,
    port,
    ...(certificates ? { caFile: certificates.caFile } : {}),
    messages,
    async waitFor(predicate, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const current = await messages();
        if (predicate(current)) return current;
        if (Date.now() > deadline) throw new Error(`rsyslog: condition not met within ${timeoutMs} ms (${current.length} messages received)`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
    async restart() {
      await halt();
      await launch();
    },
    pause: halt,
    resume: launch,
  };
}
