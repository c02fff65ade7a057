import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Selectable } from 'kysely';
import { kyselyOf } from '../../src/adapters/store/kysely-store.ts';
import type { Database } from '../../src/adapters/store/schema.ts';
import { hashEvent, verifyChain } from '../../src/core/audit/chain.ts';
import { runCli } from '../../src/cli/main.ts';
import { ENGINES, auditEvents, call, createPerson, enrolEmailAndTotp, json, startFlow, startHarness, type Harness } from '../support/harness.ts';
import { adminToken, raw, runCliOn } from './checks.support.ts';

/*
 * LOG-5: the audit log is a hash chain. Editing, deleting or reordering a record, even with the
 * record's own hash recomputed, is detected and the first bad record named, by the core verifier
 * and by `latchkey audit verify`; the API offers no way to change or delete records, and only a
 * token with the audit scope may read them.
 */

type AuditRow = Selectable<Database['audit_events']>;

async function populate(h: Harness): Promise<void> {
  const alice = await createPerson(h, 'alice');
  await enrolEmailAndTotp(h, alice);
  const { token } = await startFlow(h, 'alice');
  await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token });
  for (let attempt = 0; attempt < 3; attempt += 1) await call(h, 'POST', '/api/recovery/flow/answer', { code: '00000000' }, { token });
  await startFlow(h, 'ghost');
}

describe.each(ENGINES)('audit chain tamper evidence on %s', (engine) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ engine });
    await populate(h);
  });
  afterAll(async () => {
    await h.close();
  });

  const db = () => kyselyOf(h.latchkey.store);
  const rows = async (): Promise<AuditRow[]> => db().selectFrom('audit_events').selectAll().orderBy('seq').execute();
  const verify = () => verifyChain(h.latchkey.store.audit.iterate());
  /** A record in the middle of the chain that recorded a failure. */
  const target = async (): Promise<AuditRow> => {
    const failed = (await rows()).filter((row) => row.type === 'challenge.failed');
    const row = failed[1];
    if (!row) throw new Error('no challenge.failed record to tamper with');
    return row;
  };
  const put = (row: AuditRow) => db().updateTable('audit_events').set(row).where('seq', '=', row.seq).execute();

  async function expectRestoredIntact(): Promise<void> {
    const verdict = await verify();
    expect(verdict.ok).toBe(true);
    const head = await h.latchkey.store.audit.head();
    expect(verdict).toMatchObject({ count: head.seq, headHash: head.hash });
  }

  it('LOG-5 verifies the untouched chain up to the stored head', async () => {
    const all = await rows();
    expect(all.length).toBeGreaterThan(15);
    await expectRestoredIntact();
  });

  it('LOG-5 names the edited record when one field of it is changed', async () => {
    const original = await target();
    await put({ ...original, outcome: 'success' });
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: original.seq });
    await put({ ...original, ip: '192.0.2.99' });
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: original.seq });
    await put({ ...original, data: JSON.stringify({ ...(JSON.parse(original.data) as object), method: 'totp' }) });
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: original.seq });
    await put(original);
    await expectRestoredIntact();
  });

  it('LOG-5 detects an edit whose own hash was recomputed, at the record after it', async () => {
    const original = await target();
    const record = (await auditEvents(h)).find((event) => event.seq === original.seq);
    if (!record) throw new Error('record vanished');
    const { hash: _old, ...unhashed } = { ...record, outcome: 'success' as const };
    await put({ ...original, outcome: 'success', hash: hashEvent(unhashed) });
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: original.seq + 1 });
    await put(original);
    await expectRestoredIntact();
  });

  it('LOG-5 names the gap when a record is deleted', async () => {
    const original = await target();
    await db().deleteFrom('audit_events').where('seq', '=', original.seq).execute();
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: original.seq + 1 });
    await db().insertInto('audit_events').values(original).execute();
    await expectRestoredIntact();
  });

  it('LOG-5 names the first moved record when two records swap places', async () => {
    const first = await target();
    const second = (await rows()).find((row) => row.seq === first.seq + 1);
    if (!second) throw new Error('no record after the target');
    const swap = async (): Promise<void> => {
      await db().updateTable('audit_events').set({ seq: -1 }).where('seq', '=', first.seq).execute();
      await db().updateTable('audit_events').set({ seq: first.seq }).where('seq', '=', second.seq).execute();
      await db().updateTable('audit_events').set({ seq: second.seq }).where('seq', '=', -1).execute();
    };
    await swap();
    expect((await rows()).find((row) => row.seq === first.seq)?.id).toBe(second.id);
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: first.seq });
    await swap();
    await expectRestoredIntact();
  });

  it('LOG-5 offers no API to change or delete audit records, even to a token with every scope', async () => {
    const token = await adminToken(h);
    const before = await rows();
    const seq = before[5]?.seq ?? 1;
    for (const method of ['DELETE', 'PATCH', 'PUT', 'POST'] as const) {
      for (const url of ['/api/admin/audit', `/api/admin/audit/${seq}`, `/api/admin/audit?after=${seq}`]) {
        const response = await raw(h, method, url, method === 'DELETE' ? undefined : JSON.stringify({ outcome: 'success' }), { authorization: `Bearer ${token}`, ...(method === 'DELETE' ? {} : { 'content-type': 'application/json' }) });
        expect([404, 405], `${method} ${url}`).toContain(response.statusCode);
      }
    }
    const after = await rows();
    expect(after.slice(0, before.length)).toEqual(before);
    await expectRestoredIntact();
  });

  it('LOG-5 lets only a live token with the audit scope read the log', async () => {
    expect((await call(h, 'GET', '/api/admin/audit')).statusCode).toBe(401);
    expect((await call(h, 'GET', '/api/admin/audit', undefined, { token: 'lk_admin_' + 'A'.repeat(43) })).statusCode).toBe(401);
    const narrow = await adminToken(h, ['accounts:read', 'outbox:read']);
    const refused = await call(h, 'GET', '/api/admin/audit', undefined, { token: narrow });
    expect(refused.statusCode).toBe(403);
    expect(refused.body).not.toContain('challenge.failed');
    const { token, record } = await h.latchkey.adminTokens.create({ name: 'auditor', scopes: ['audit:read'] }, { kind: 'cli', id: 'test' });
    expect(json<{ events: unknown[] }>(await call(h, 'GET', '/api/admin/audit?limit=3', undefined, { token })).events).toHaveLength(3);
    await h.latchkey.adminTokens.revoke(record.id, { kind: 'cli', id: 'test' });
    expect((await call(h, 'GET', '/api/admin/audit', undefined, { token })).statusCode).toBe(401);
  });
});

describe('audit chain verification through the CLI (SQLite)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ engine: 'sqlite' });
    await populate(h);
  });
  afterAll(async () => {
    await h.close();
  });

  const db = () => kyselyOf(h.latchkey.store);
  const verifyCli = () => runCliOn(h, () => runCli(['audit', 'verify']));

  it('LOG-5 `audit verify` exits 0 on the intact log and 1, naming the record, after an edit', async () => {
    const intact = await verifyCli();
    expect(intact.code).toBe(0);
    expect(intact.out).toMatch(/audit log intact: \d+ events/);
    const original = await db().selectFrom('audit_events').selectAll().where('type', '=', 'challenge.failed').orderBy('seq').executeTakeFirstOrThrow();
    await db().updateTable('audit_events').set({ outcome: 'success' }).where('seq', '=', original.seq).execute();
    const broken = await verifyCli();
    expect(broken.code).toBe(1);
    expect(broken.out).toContain(`BROKEN at event #${original.seq}`);
    await db().updateTable('audit_events').set({ outcome: original.outcome }).where('seq', '=', original.seq).execute();
    expect((await verifyCli()).code).toBe(0);
  });

  it('LOG-5 `audit verify` exits 1 when events were cut from the end of the log', async () => {
    const last = await db().selectFrom('audit_events').selectAll().orderBy('seq', 'desc').executeTakeFirstOrThrow();
    await db().deleteFrom('audit_events').where('seq', '=', last.seq).execute();
    const cut = await verifyCli();
    expect(cut.code).toBe(1);
    expect(cut.out).toContain(`BROKEN at event #${last.seq}`);
    await db().insertInto('audit_events').values(last).execute();
    expect((await verifyCli()).code).toBe(0);
  });

  it('LOG-5 `audit export` is itself recorded in the audit log', async () => {
    const exported = await runCliOn(h, () => runCli(['audit', 'export', '--output', `${h.dataDir}/audit.jsonl`]));
    expect(exported.code).toBe(0);
    const events = await auditEvents(h, { types: ['audit.exported'] });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor: { kind: 'cli' }, outcome: 'success' });
    expect((await verifyCli()).code).toBe(0);
  });
});
