import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /**
   * From now on nothing passes in either direction, on open connections and on new ones: the
   * database host is up but hung (or a route drops packets). Nothing is closed, so a client sees
   * no error, only silence.
   */
  hang(): void;
  /** Lets traffic pass again, delivering what was held back. */
  resume(): void;
  /** Drops every open connection, as a network cut or a database restart would. */
  cut(): void;
  stop(): Promise<void>;
}

/** A loopback TCP proxy to `target`, to take a real server away from a client and give it back. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const held: (() => void)[] = [];
  let hanging = false;
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  /** Copies `from` to `to`, holding chunks back while the proxy hangs. */
  const relay = (from: Socket, to: Socket): void => {
    from.on('data', (chunk: Buffer) => {
      if (hanging) held.push(() => to.write(chunk));
      else to.write(chunk);
    });
    from.on('close', () => to.destroy());
  };
  const server: Server = createServer((client) => {
    track(client);
    const upstream = connect(target.port, target.host);
    track(upstream);
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const cut = (): void => {
    held.length = 0;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };
  return {
    port: (server.address() as AddressInfo).port,
    hang() {
      hanging = true;
    },
    resume() {
      hanging = false;
      for (const deliver of held.splice(0)) deliver();
    },
    cut,
    stop: async () => {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The same PostgreSQL URL with its host and port replaced. */
export function viaPort(url: string, port: number): string {
  const parsed = new URL(url);
  parsed.hostname = '127.0.0.1';
  parsed.port = String(port);
  return parsed.toString();
}
