import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, call, createPerson, enrolEmailAndTotp, json, passTwoGates, roomyLimits, startFlow, startHarness, type Harness } from '../support/harness.ts';

const BREACHED = 'tangerine ladder whispers softly';
const CLEAN = 'purple otter juggles seven lanterns';

/** A local Have I Been Pwned range API that knows one breached password, with padding lines. */
async function startRangeApi(): Promise<{ server: Server; url: string; prefixes: string[] }> {
  const sha1 = createHash('sha1').update(BREACHED).digest('hex').toUpperCase();
  const prefixes: string[] = [];
  const server = createServer((request, response) => {
    const prefix = /^\/range\/([0-9A-F]{5})$/.exec(request.url ?? '')?.[1];
    if (!prefix) {
      response.writeHead(404).end();
      return;
    }
    prefixes.push(prefix);
    const lines = ['0018A45C4D1DEF81644B54AB7F969B88D65:3', '00D4F6E8FA6EECAD2A3AA415EEC418D38EC:0'];
    if (prefix === sha1.slice(0, 5)) lines.push(`${sha1.slice(5)}:4217`);
    response.writeHead(200, { 'content-type': 'text/plain' }).end(lines.join('\r\n'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, prefixes };
}

describe.each(ENGINES)('breached-password check on %s', (engine) => {
  let h: Harness;
  let api: Awaited<ReturnType<typeof startRangeApi>>;
  beforeAll(async () => {
    api = await startRangeApi();
    h = await startHarness({
      engine,
      policy: [roomyLimits, (policy) => void (policy.tiers.standard.password.breachedCheck = true)],
      env: { LATCHKEY_BREACHED_PASSWORD_API__URL: api.url },
    });
  });
  afterAll(async () => {
    await h.close();
    await new Promise((resolve) => api.server.close(resolve));
  });

  it('PWD-4 refuses a password the range API has seen, says why, and keeps the grant; only a 5-character prefix leaves', async () => {
    const nina = await createPerson(h, 'nina');
    const enrolled = await enrolEmailAndTotp(h, nina);
    const grant = await passTwoGates(h, (await startFlow(h, 'nina')).token, enrolled);
    const refused = await call(h, 'POST', '/api/recovery/flow/password', { password: BREACHED, confirmPassword: BREACHED }, { token: grant });
    expect(refused.statusCode).toBe(422);
    const body = json<{ code: string; reasons: string[] }>(refused);
    expect(body.code).toBe('password.policy');
    expect(body.reasons.join(' ')).toMatch(/breach/i);
    expect(api.prefixes.every((prefix) => prefix.length === 5)).toBe(true);
    const accepted = await call(h, 'POST', '/api/recovery/flow/password', { password: CLEAN, confirmPassword: CLEAN }, { token: grant });
    expect(accepted.statusCode).toBe(200);
    expect(await h.latchkey.deps.directory.verifyPassword(nina.accountId as never, CLEAN)).toBe('valid');
  });
});
