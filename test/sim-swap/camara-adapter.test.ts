import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCamaraSimSwapCheck, simSwapConfigSchema } from '../../src/adapters/sim-swap/camara-sim-swap.ts';
import { FakeCamaraGateway } from './camara-server.ts';

const TOKEN = 'camara-test-token-0123456789';
const SWAPPED = '+447700900111';
const KEPT = '+447700900222';

describe('CAMARA SIM Swap adapter against a local gateway', () => {
  const gateway = new FakeCamaraGateway(TOKEN);
  beforeAll(async () => {
    await gateway.start();
    gateway.set(SWAPPED, 'swapped');
    gateway.set(KEPT, 'not_swapped');
  });
  afterAll(async () => gateway.stop());

  const check = (overrides: { token?: string; timeoutMs?: number; baseUrl?: string } = {}) =>
    createCamaraSimSwapCheck(simSwapConfigSchema.parse({ baseUrl: overrides.baseUrl ?? gateway.baseUrl, token: overrides.token ?? TOKEN, timeoutMs: overrides.timeoutMs ?? 2000 }), {
      now: () => new Date('2026-11-26T12:00:00Z'),
    });

  it('sends POST /sim-swap/v1/check with the bearer token and exactly { phoneNumber, maxAge }, and reads { swapped }', async () => {
    const before = gateway.checks.length;
    await expect(check().checkRecentSwap(SWAPPED, 240)).resolves.toEqual({ kind: 'checked', swapped: true, checkedAt: new Date('2026-11-26T12:00:00Z') });
    await expect(check().checkRecentSwap(KEPT, 72)).resolves.toMatchObject({ kind: 'checked', swapped: false });
    expect(gateway.checks.slice(before)).toEqual([
      { method: 'POST', path: '/camara/sim-swap/v1/check', authorization: `Bearer ${TOKEN}`, contentType: 'application/json', accept: 'application/json', body: { phoneNumber: SWAPPED, maxAge: 240 } },
      { method: 'POST', path: '/camara/sim-swap/v1/check', authorization: `Bearer ${TOKEN}`, contentType: 'application/json', accept: 'application/json', body: { phoneNumber: KEPT, maxAge: 72 } },
    ]);
    expect(gateway.problems).toEqual([]);
  });

  it('keeps maxAge within the 1 to 2400 hours CAMARA allows', async () => {
    const before = gateway.checks.length;
    await check().checkRecentSwap(KEPT, 5000);
    await check().checkRecentSwap(KEPT, 0);
    expect(gateway.checks.slice(before).map((item) => (item.body as { maxAge: number }).maxAge)).toEqual([2400, 1]);
  });

  it('calls a refused token, a 5xx, a reply that is not { swapped } and a dead gateway unavailable, never a verdict', async () => {
    gateway.set('+447700900333', 'server_error');
    gateway.set('+447700900444', 'malformed');
    await expect(check({ token: 'wrong' }).checkRecentSwap(SWAPPED, 240)).resolves.toEqual({ kind: 'unavailable', reason: 'http_status' });
    await expect(check().checkRecentSwap('+447700900333', 240)).resolves.toEqual({ kind: 'unavailable', reason: 'http_status' });
    await expect(check().checkRecentSwap('+447700900444', 240)).resolves.toEqual({ kind: 'unavailable', reason: 'malformed' });
    await expect(check({ baseUrl: 'http://127.0.0.1:1' }).checkRecentSwap(SWAPPED, 240)).resolves.toEqual({ kind: 'unavailable', reason: 'network' });
  });

  it('gives up after timeoutMs when the gateway does not answer', async () => {
    gateway.set('+447700900555', 'hang');
    const started = Date.now();
    await expect(check({ timeoutMs: 300 }).checkRecentSwap('+447700900555', 240)).resolves.toEqual({ kind: 'unavailable', reason: 'timeout' });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(2000);
  });

  it('refuses a configuration without a token or with a base URL that is not http(s), naming the field', () => {
    const missing = simSwapConfigSchema.safeParse({ baseUrl: gateway.baseUrl });
    expect(missing.success).toBe(false);
    expect(missing.error?.issues.map((issue) => issue.path.join('.'))).toEqual(['token']);
    const ftp = simSwapConfigSchema.safeParse({ baseUrl: 'ftp://gateway.example', token: TOKEN });
    expect(ftp.error?.issues.map((issue) => issue.path.join('.'))).toEqual(['baseUrl']);
    expect(simSwapConfigSchema.parse({ baseUrl: gateway.baseUrl, token: TOKEN }).timeoutMs).toBe(3000);
  });
});
