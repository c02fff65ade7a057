import { connect as netConnect, isIP } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { Client, ResultCodeError } from 'ldapts';

/** How to reach the directory; shared by the pool and by the short-lived connections of user binds. */
export interface LdapConnectionSettings {
  readonly url: string;
  readonly startTls: boolean;
  /** PEM CA certificates that sign the server certificate; empty means the system store. */
  readonly ca: readonly Buffer[];
  readonly connectTimeoutMs: number;
  readonly operationTimeoutMs: number;
}

/** busy (51) and unavailable (52): result codes that mean "this server cannot serve now", not a refusal. */
const SERVER_UNAVAILABLE_CODES = new Set([51, 52]);

/** True when an error is the directory refusing an operation (a result code), not a broken connection. */
export function isRefusal(error: unknown): error is ResultCodeError {
  return error instanceof ResultCodeError && !SERVER_UNAVAILABLE_CODES.has(error.code);
}

async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Opens a client that is connected (and upgraded with StartTLS when configured) but not bound.
 * SECURITY: ldapts reconnects a dropped client on its next operation, unbound and without StartTLS;
 * an operation on it would then run anonymously, or send a password in the clear. Each client here
 * gets exactly one socket: a reconnect attempt fails, and the pool replaces the client instead.
 */
export async function openClient(settings: LdapConnectionSettings): Promise<Client> {
  const { hostname, protocol } = new URL(settings.url);
  const tlsOptions: ConnectionOptions = {
    ...(settings.ca.length > 0 ? { ca: [...settings.ca] } : {}),
    host: hostname,
    // SNI takes host names only, never addresses.
    ...(isIP(hostname) ? {} : { servername: hostname }),
    minVersion: 'TLSv1.2',
  };
  let plainSockets = 0;
  let secureSockets = 0;
  const client = new Client({
    url: settings.url,
    timeout: settings.operationTimeoutMs,
    connectTimeout: settings.connectTimeoutMs,
    // ldapts speaks TLS from the first byte whenever tlsOptions is set, so only ldaps:// gets them.
    ...(protocol === 'ldaps:' ? { tlsOptions } : {}),
    createConnection: ((...args: Parameters<typeof netConnect>) => {
      plainSockets += 1;
      if (plainSockets > 1) throw new Error('the connection was lost; the pool opens a new one');
      return netConnect(...args);
    }) as typeof netConnect,
    createSecureConnection: ((...args: Parameters<typeof tlsConnect>) => {
      secureSockets += 1;
      if (secureSockets > 1) throw new Error('the connection was lost; the pool opens a new one');
      return tlsConnect(...args);
    }) as typeof tlsConnect,
  });
  try {
    if (settings.startTls) await withDeadline(client.startTLS(tlsOptions), settings.connectTimeoutMs + settings.operationTimeoutMs, 'StartTLS');
    return client;
  } catch (error) {
    await closeQuietly(client);
    throw error;
  }
}

export async function closeQuietly(client: Client): Promise<void> {
  await client.unbind().catch(() => undefined);
}

/**
 * A handful of clients bound as the service account, reused across requests. A client whose
 * connection broke (server restart, timeout, network error) is dropped and a new one is opened on
 * the next request, so the pool heals by itself when the server returns. Waiting for a free client
 * is bounded by the operation timeout. Safe for concurrent use.
 */
export class LdapConnectionPool {
  private readonly idle: Client[] = [];
  private readonly waiters: (() => void)[] = [];
  private open = 0;
  private closed = false;

  constructor(
    private readonly settings: LdapConnectionSettings,
    private readonly bind: { readonly dn: string; readonly password: string },
    private readonly size: number,
  ) {}

  /**
   * Runs an action with a bound client. A refusal (an LDAP result code) leaves the client in the
   * pool; any other failure drops it. Errors reach the caller unchanged.
   */
  async use<T>(action: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.acquire();
    let healthy = true;
    try {
      return await action(client);
    } catch (error) {
      healthy = isRefusal(error);
      throw error;
    } finally {
      this.release(client, healthy);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiters.splice(0)) wake();
    await Promise.all(this.idle.splice(0).map(closeQuietly));
  }

  private async acquire(): Promise<Client> {
    const deadline = Date.now() + this.settings.operationTimeoutMs;
    for (;;) {
      if (this.closed) throw new Error('the directory connection pool is closed');
      const reusable = this.idle.pop();
      if (reusable) {
        if (reusable.isBound) return reusable;
        this.open -= 1;
        void closeQuietly(reusable);
        continue;
      }
      if (this.open < this.size) {
        this.open += 1;
        try {
          return await this.connect();
        } catch (error) {
          this.open -= 1;
          this.wakeOne();
          throw error;
        }
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error('no directory connection became free in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          const index = this.waiters.indexOf(wake);
          if (index >= 0) this.waiters.splice(index, 1);
          resolve();
        }, remaining);
        const wake = (): void => {
          clearTimeout(timer);
          resolve();
        };
        this.waiters.push(wake);
      });
    }
  }

  private async connect(): Promise<Client> {
    const client = await openClient(this.settings);
    try {
      await client.bind(this.bind.dn, this.bind.password);
      return client;
    } catch (error) {
      await closeQuietly(client);
      throw error;
    }
  }

  private release(client: Client, healthy: boolean): void {
    if (healthy && client.isBound && !this.closed) {
      this.idle.push(client);
    } else {
      this.open -= 1;
      void closeQuietly(client);
    }
    this.wakeOne();
  }

  private wakeOne(): void {
    this.waiters.shift()?.();
  }
}
