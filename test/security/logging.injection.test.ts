import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.ts';
import { ENGINES, auditEvents, call, createPerson, json, startHarness, type Harness } from '../support/harness.ts';
import { loggedHarness, runCliOn, type LogCapture } from './checks.support.ts';

/*
 * LOG-4: attacker-controlled text (identifiers, URLs, user agents) cannot forge log entries. The
 * server log is JSON lines with control characters escaped; the audit log keeps a keyed hash of a
 * typed identifier, never the text; and the audit export is JSON lines that stay one line per event.
 */

const FORGED = '2025-01-01T00:00:00Z INFO reset.success user=admin1';
const HOSTILE_IDENTIFIERS = [
  `x\r\n${FORGED}`,
  `x\n${FORGED}`,
  `x\r${FORGED}`,
  `x\n{"level":30,"time":1735689600000,"msg":"reset.success","user":"admin1"}`,
  '\u001b[2J\u001b[1;1H\u001b[32mreset.success user=admin1\u001b[0m',
  `x\u2028${FORGED}`,
  `x\u0085${FORGED}`,
  'admin1\u0000',
];

function expectOneJsonObjectPerLine(log: LogCapture): void {
  expect(log.lines.length).toBeGreaterThan(10);
  for (const line of log.lines) {
    expect(() => JSON.parse(line), line.slice(0, 120)).not.toThrow();
    expect(line.startsWith('{'), line.slice(0, 120)).toBe(true);
  }
  // Every chunk pino wrote is exactly one line: nothing split an entry in two.
  for (const chunk of log.chunks) expect(chunk.match(/\r|\n|\u2028|\u2029|\u0085/g) ?? []).toEqual(['\n']);
}

describe.each(ENGINES)('log injection on %s', (engine) => {
  let h: Harness;
  let lh: Harness;
  let log: LogCapture;
  beforeAll(async () => {
    h = await startHarness({ engine, env: { LATCHKEY_LOG_LEVEL: 'debug' } });
    ({ lh, log } = await loggedHarness(h));
    await createPerson(h, 'alice');
    for (const identifier of HOSTILE_IDENTIFIERS) {
      expect((await call(lh, 'POST', '/api/recovery/flows', { identifier })).statusCode).toBe(201);
      expect((await call(lh, 'POST', '/api/me/sign-in', { username: identifier, password: identifier })).statusCode).toBe(401);
    }
    for (const path of [`/api/%0d%0a${encodeURIComponent(FORGED)}`, '/api/recovery/flows/%1b%5b2J', `/api/x%0a%7b%22level%22%3a30%7d`]) {
      expect((await lh.app.inject({ method: 'GET', url: path })).statusCode).toBe(404);
    }
    expect((await lh.app.inject({ method: 'POST', url: '/api/recovery/flows', headers: { 'content-type': 'application/json', 'user-agent': `agent\u001b[2J ${FORGED}` }, payload: JSON.stringify({ identifier: 'ghost' }) })).statusCode).toBe(201);
  });
  afterAll(async () => {
    await lh.close();
    await h.close();
  });

  it('LOG-4 keeps the server log one JSON object per line, whatever the identifiers, paths and agents held', () => {
    expectOneJsonObjectPerLine(log);
    expect(log.text).not.toContain(FORGED);
    expect(log.text).not.toContain('\u001b');
    expect(log.lines.some((line) => line.startsWith('2025-'))).toBe(false);
  });

  it('LOG-4 records a typed identifier in the audit log only as a keyed hash, never as text', async () => {
    const started = await auditEvents(h, { types: ['recovery.started'] });
    expect(started).toHaveLength(HOSTILE_IDENTIFIERS.length + 1);
    for (const event of started) expect(event.data['identifier_hash']).toMatch(/^[0-9a-f]{64}$/);
    // (The user agent is a field of its own, kept as sent: the export test shows it stays on its line.)
    const text = JSON.stringify((await auditEvents(h)).map(({ userAgent: _agent, ...event }) => event));
    expect(text).not.toContain('reset.success');
    expect(text).not.toContain('admin1');
    expect(new Set(started.map((event) => event.data['identifier_hash'])).size).toBe(started.length);
  });

  it('LOG-4 returns hostile text inside JSON strings only, so a reply cannot carry a raw line break either', async () => {
    const response = await lh.app.inject({ method: 'GET', url: `/api/%0d%0a${encodeURIComponent(FORGED)}` });
    for (const control of ['\r', '\n', '\u001b']) expect(response.body).not.toContain(control);
    expect(json<{ detail: string }>(response).detail).not.toContain('\n');
  });
});

describe('log injection through the audit export (CLI, SQLite)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ engine: 'sqlite' });
    await h.app.inject({ method: 'POST', url: '/api/recovery/flows', headers: { 'content-type': 'application/json', 'user-agent': `agent\u001b[2J ${FORGED}` }, payload: JSON.stringify({ identifier: `y\n${FORGED}` }) });
  });
  afterAll(async () => {
    await h.close();
  });

  it('LOG-4 exports one JSON line per audit event, control characters escaped', async () => {
    const output = join(h.dataDir, 'export.jsonl');
    const { code } = await runCliOn(h, () => runCli(['audit', 'export', '--output', output]));
    expect(code).toBe(0);
    const text = await readFile(output, 'utf8');
    const lines = text.split('\n').filter(Boolean);
    const events = await auditEvents(h);
    // The export itself is audited after it is written, so the file holds every event but that one.
    expect(lines).toHaveLength(events.length - 1);
    expect(text.split(/\r\n|\r|\n|\u2028|\u2029|\u0085/).filter(Boolean)).toHaveLength(lines.length);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(text).not.toContain('\u001b');
    expect(lines.some((line) => line.startsWith('2025-'))).toBe(false);
    // The agent string is there, escaped, inside its event's line.
    expect(lines.filter((line) => line.includes('agent\\u001b[2J'))).toHaveLength(1);
  });
});
