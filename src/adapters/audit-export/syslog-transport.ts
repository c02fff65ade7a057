import { readFileSync } from 'node:fs';
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { frameOctetCounted } from '../../core/audit/formats/rfc5424.ts';

export { formatRfc5424, frameOctetCounted, DOCUMENTATION_ENTERPRISE_ID } from '../../core/audit/formats/rfc5424.ts';
export type { Rfc5424Message, StructuredDataElement, SyslogFacility, SyslogSeverity } from '../../core/audit/formats/rfc5424.ts';

export interface SyslogTlsOptions {
  /** PEM file of the CA that signed the collector's certificate; unset means the system roots. */
  readonly caFile?: string;
  /** PEM files of a client certificate and its key, for collectors that require mutual TLS. */
  readonly certFile?: string;
  readonly keyFile?: string;
  /** Name to check the collector's certificate against; defaults to `host`. */
  readonly serverName?: string;
}

export interface SyslogTransportOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: SyslogTlsOptions;
  /** How long one send may take from connect to the collector's close; default 10 s. */
  readonly timeoutMs?: number;
}

export interface SyslogTransport {
  /**
   * Sends RFC 5424 messages (as formatRfc5424 returns them; this adds the RFC 6587 octet-count
   * prefix) in order over one connection, and resolves only once the collector has read all of
   * them. Rejects on any connection, TLS or timeout error; then some, all or none may have arrived.
   */
  send(frames: readonly string[]): Promise<void>;
  /** Aborts a send in progress (it rejects); the transport may be used again afterwards. */
  close(): Promise<void>;
}

/**
 * Syslog over TCP (RFC 6587 octet counting), optionally TLS (RFC 5425).
 *
 * Plain TCP syslog has no acknowledgement: a write that succeeded only reached our kernel. So each
 * send opens a connection, writes its messages, ends its side and waits for the collector to close
 * its side: a collector closes only after reading our end of stream, which comes after the last
 * byte, so a clean close proves it read every message. One connection per batch is the price.
 */
export function createSyslogTransport(options: SyslogTransportOptions): SyslogTransport {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const tls = options.tls;
  const tlsMaterial = tls
    ? {
        ...(tls.caFile ? { ca: readFileSync(tls.caFile) } : {}),
        ...(tls.certFile ? { cert: readFileSync(tls.certFile) } : {}),
        ...(tls.keyFile ? { key: readFileSync(tls.keyFile) } : {}),
      }
    : null;
  // SNI carries names only (RFC 6066); an IP address is still checked against the certificate.
  const serverName = tls?.serverName ? { servername: tls.serverName } : isIP(options.host) === 0 ? { servername: options.host } : {};
  const open = new Set<Socket>();

  return {
    send(frames) {
      if (frames.length === 0) return Promise.resolve();
      const payload = frames.map(frameOctetCounted).join('');
      return new Promise<void>((resolve, reject) => {
        const socket: Socket = tlsMaterial
          ? connectTls({ host: options.host, port: options.port, ...serverName, ...tlsMaterial })
          : connectTcp({ host: options.host, port: options.port });
        open.add(socket);
        let remoteEnded = false;
        let failure: Error | null = null;
        const timer = setTimeout(() => socket.destroy(new Error(`syslog ${options.host}:${options.port} did not confirm within ${timeoutMs} ms`)), timeoutMs);
        socket.once(tlsMaterial ? 'secureConnect' : 'connect', () => {
          socket.end(payload);
        });
        // The collector sends nothing; reading keeps the stream flowing so 'end' can arrive.
        socket.on('data', () => undefined);
        socket.once('end', () => {
          remoteEnded = true;
        });
        socket.once('error', (error) => {
          failure = error;
        });
        socket.once('close', () => {
          clearTimeout(timer);
          open.delete(socket);
          if (failure) reject(new Error(`syslog ${options.host}:${options.port}: ${failure.message}`, { cause: failure }));
          else if (!remoteEnded || !socket.writableFinished) reject(new Error(`syslog ${options.host}:${options.port} closed the connection before reading every message`));
          else resolve();
        });
      });
    },
    async close() {
      for (const socket of open) socket.destroy(new Error('syslog transport closed'));
      open.clear();
    },
  };
}
