import { startReceiver, type HttpReceiver, type RecordedRequest, type Reply } from '../channel/http-receiver.ts';

/** How the fake operator answers for one number. */
export type NumberBehaviour = 'swapped' | 'not_swapped' | 'server_error' | 'hang' | 'malformed';

export interface RecordedCheck {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
  readonly contentType: string | undefined;
  readonly accept: string | undefined;
  readonly body: unknown;
}

/**
 * A local HTTP server that answers like a CAMARA SIM Swap API gateway (`POST /sim-swap/v1/check`,
 * `{ phoneNumber, maxAge }` → `{ swapped }`), on loopback and a free port. It checks every request
 * the way a strict gateway would and answers 400/401/404/405 to anything else, recording why, so a
 * test sees exactly what Latchkey sent.
 */
export class FakeCamaraGateway {
  readonly checks: RecordedCheck[] = [];
  readonly problems: string[] = [];
  private readonly behaviours = new Map<string, NumberBehaviour>();
  private receiver: HttpReceiver | null = null;
  baseUrl = '';

  constructor(readonly token: string) {}

  set(phoneNumber: string, behaviour: NumberBehaviour): void {
    this.behaviours.set(phoneNumber, behaviour);
  }

  async start(): Promise<void> {
    this.receiver = await startReceiver((request) => this.answer(request));
    this.baseUrl = `${this.receiver.url}/camara`;
  }

  async stop(): Promise<void> {
    const receiver = this.receiver;
    this.receiver = null;
    await receiver?.stop();
  }

  private answer(request: RecordedRequest): Reply {
    const text = request.body.toString('utf8');
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Recorded as text; refused below.
    }
    const check: RecordedCheck = {
      method: request.method,
      path: request.path,
      authorization: request.headers.authorization,
      contentType: request.headers['content-type'],
      accept: request.headers.accept,
      body,
    };
    this.checks.push(check);
    const refuse = (status: number, problem: string): Reply => {
      this.problems.push(problem);
      return { status, json: { status, code: 'INVALID_ARGUMENT', message: problem } };
    };
    if (check.path !== '/camara/sim-swap/v1/check') return refuse(404, `path ${check.path}`);
    if (check.method !== 'POST') return refuse(405, `method ${check.method}`);
    if (check.authorization !== `Bearer ${this.token}`) return refuse(401, 'bearer token');
    if (check.contentType !== 'application/json') return refuse(400, `content-type ${String(check.contentType)}`);
    const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : null;
    if (!fields || Object.keys(fields).sort().join(',') !== 'maxAge,phoneNumber') return refuse(400, `body ${text}`);
    const { phoneNumber, maxAge } = fields;
    if (typeof phoneNumber !== 'string' || !/^\+[1-9][0-9]{4,14}$/.test(phoneNumber)) return refuse(400, 'phoneNumber');
    if (typeof maxAge !== 'number' || !Number.isInteger(maxAge) || maxAge < 1 || maxAge > 2400) return refuse(400, 'maxAge');
    const behaviour = this.behaviours.get(phoneNumber) ?? 'not_swapped';
    // A hanging request stays open until stop() drops it.
    if (behaviour === 'hang') return 'hang';
    if (behaviour === 'server_error') return { status: 503, json: { status: 503, code: 'UNAVAILABLE', message: 'Service unavailable' } };
    if (behaviour === 'malformed') return { status: 200, text: '<html>captive portal</html>', contentType: 'text/html' };
    return { status: 200, json: { swapped: behaviour === 'swapped' } };
  }
}
