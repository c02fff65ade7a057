import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLatchkey, withLatchkey, type CliRun } from '../support/cli.ts';
import type { AuditRecord } from '../../src/core/audit/events.ts';

/* `latchkey alerts list|ack|resolve` against a real SQLite data directory. */

describe('latchkey alerts', () => {
  let dir: string;
  const env = (): Record<string, string> => ({ LATCHKEY_DATA_DIR: join(dir, 'data'), LATCHKEY_LOG_LEVEL: 'silent' });

  const cli = (...args: string[]): Promise<CliRun> => runLatchkey(env(), args);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-alerts-cli-'));
    await withLatchkey(env(), async (latchkey) => {
      for (const [key, severity] of [
        ['reset_spray:ip:192.0.2.1', 'high'],
        ['break_glass_touch:bg1', 'critical'],
      ] as const) {
        await latchkey.alerts.raise({ detectorId: key.split(':')[0] ?? '', severity, dedupeKey: key, summary: `finding ${key}`, subject: null, ip: null, department: null, observed: {}, baseline: null, eventIds: [], at: new Date() });
      }
    });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists, acknowledges and resolves alerts, recording the reason and the CLI user', async () => {
    const listed = await cli('alerts', 'list', '--severity', 'critical');
    expect(listed.code, listed.stderr).toBe(0);
    const rows = listed.stdout.trim().split('\n').map((line) => line.split('\t'));
    expect(rows).toHaveLength(1);
    const [id, severity, status, occurrences, , summary] = rows[0] ?? [];
    expect([severity, status, occurrences, summary]).toEqual(['critical', 'open', '1', 'finding break_glass_touch:bg1']);

    expect(await cli('alerts', 'ack', id ?? '', '--reason', 'drill announced for today')).toMatchObject({ code: 0, stdout: `${id} acknowledged\n` });
    expect(await cli('alerts', 'resolve', id ?? '', '--reason', 'drill finished')).toMatchObject({ code: 0, stdout: `${id} resolved\n` });
    const again = await cli('alerts', 'resolve', id ?? '', '--reason', 'twice');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already resolved/);

    expect((await cli('alerts', 'list', '--status', 'open')).stdout).toContain('finding reset_spray:ip:192.0.2.1');
    expect((await cli('alerts', 'list', '--status', 'open')).stdout).not.toContain('break_glass_touch');

    await withLatchkey(env(), async (latchkey) => {
      const events: AuditRecord[] = [];
      for await (const record of latchkey.store.audit.iterate()) if (record.type === 'alert.acknowledged' || record.type === 'alert.resolved') events.push(record);
      expect(events.map((event) => [event.type, event.actor.kind, event.data['reason_text']])).toEqual([
        ['alert.acknowledged', 'cli', 'drill announced for today'],
        ['alert.resolved', 'cli', 'drill finished'],
      ]);
    });
  });

  it('refuses a missing reason or a bad filter as a usage error', async () => {
    expect((await cli('alerts', 'ack', '00000000-0000-4000-8000-000000000000')).code).toBe(2);
    expect((await cli('alerts', 'resolve', '00000000-0000-4000-8000-000000000000', '--reason', '  ')).code).toBe(2);
    expect((await cli('alerts', 'list', '--severity', 'urgent')).code).toBe(2);
    expect((await cli('alerts', 'list', '--limit', '0')).code).toBe(2);
    const missing = await cli('alerts', 'ack', '00000000-0000-4000-8000-000000000000', '--reason', 'x');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/No alert has this id/);
  });
});
