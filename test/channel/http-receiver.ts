import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request exactly as it arrived: the raw body bytes, not a parsed view of them. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** What the receiver answers: a status and body, or nothing at all (to exercise timeouts). */
export type Reply =
  | {
      readonly status: number;
      readonly json?: unknown;
      readonly text?: string;
      /** The Content-Type of a `text` reply; text/plain unless set (a `json` reply is always application/json). */
      readonly contentType?: string;
      readonly headers?: Readonly<Record<string, string>>;
    }
  | 'hang';

export interface HttpReceiver {
  readonly url: string;
  readonly requests: RecordedRequest[];
  stop(): Promise<void>;
}

/**
 * A real HTTP server on 127.0.0.1 and an ephemeral port that records every request and answers with
 * `reply`. stop() drops open (and hanging) connections so a test never waits on its own server.
 */
export async function startReceiver(reply: (request: RecordedRequest) => Reply): Promise<HttpReceiver> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      requests.push(recorded);
      const answer = reply(recorded);
      if (answer === 'hang') return;
      if (answer.json !== undefined) {
        res.writeHead(answer.status, { ...answer.headers, 'Content-Type': 'application/json' });
        res.end(JSON.stringify(answer.json));
      } else {
        res.writeHead(answer.status, { ...answer.headers, 'Content-Type': answer.contentType ?? 'text/plain' });
        res.end(answer.text ?? '');
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeAllConnections();
      }),
  };
}

/** A loopback URL on which nothing listens: a server is started, its port noted, then stopped. */
export async function unusedUrl(): Promise<string> {
  const receiver = await startReceiver(() => ({ status: 204 }));
  await receiver.stop();
  return receiver.url;
}
