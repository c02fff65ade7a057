import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parse } from 'yaml';
import type { AuditEventInput } from '../src/core/audit/events.ts';
import { DetectorRunner } from '../src/core/monitoring/detector-runner.ts';
import { DEFAULT_POLICY_FILE_URL } from '../src/core/policy/default-policy.ts';
import { policySchema } from '../src/core/policy/schema.ts';
import { createFileDenyList } from '../src/adapters/geoip/deny-list-files.ts';
import { openStore } from '../src/adapters/store/open-store.ts';
import { systemClock } from '../src/adapters/system/clock.ts';

/*
 * What the real-time risk check adds to every reset start: RecoveryRiskCheck.assessStart as
 * RecoveryService.start calls it, with a realistic load behind it — a Tor-exit-sized deny list
 * (2,000 addresses and 60 networks of both families) and 1,000 addresses currently flagged by
 * repeated_failures (judged by the real runner from real audit events in a SQLite store).
 *
 *   npx tsx bench/risk-check.ts
 */

const CALLS = 1_000_000;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-bench-risk-'));
  try {
    const lines = ['# synthetic exit list'];
    for (let i = 0; i < 2_000; i += 1) lines.push(`10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`);
    for (let i = 0; i < 40; i += 1) lines.push(`172.${16 + (i % 16)}.${i}.0/24`);
    for (let i = 0; i < 20; i += 1) lines.push(`2001:db8:${i.toString(16)}::/48`);
    const denyFile = join(dir, 'exits.txt');
    await writeFile(denyFile, `${lines.join('\n')}\n`);
    const denyList = await createFileDenyList({ files: [denyFile] });

    const policy = policySchema.parse(parse(await readFile(DEFAULT_POLICY_FILE_URL, 'utf8')));
    const monitoring = { ...policy.monitoring, repeated_failures: { ...policy.monitoring.repeated_failures, perIp: { count: 2, windowSeconds: 3_600 } } };
    const store = await openStore({ dataDir: dir, migrate: true });
    const now = systemClock.now();
    const failures: AuditEventInput[] = [];
    for (let i = 0; i < 1_000; i += 1) {
      for (let n = 0; n < 2; n += 1) {
        failures.push({ type: 'challenge.failed', at: now, actor: { kind: 'anonymous', id: null }, subject: null, outcome: 'failure', reason: 'challenge.invalid', ip: `198.18.${i >> 8}.${i & 255}`, userAgent: null, department: null, tier: null, flowId: null, data: {} });
      }
    }
    await store.transaction((tx) => tx.audit.append(failures));
    const runner = new DetectorRunner({ store, sink: { raise: () => Promise.resolve() }, clock: systemClock, monitoring: () => monitoring, context: { geo: null, denyList, travelWindows: null } });
    const judgeStart = performance.now();
    const outcome = await runner.run();
    const judgeMs = performance.now() - judgeStart;

    const cases = {
      'clean IPv4 (no match)': '203.0.113.77',
      'clean IPv6 (no match)': '2001:db8:ffff::1',
      'flagged IPv4 (repeated_failures)': '198.18.2.10',
      'deny-listed IPv4 address': '10.0.5.35',
      'deny-listed IPv6 network': '2001:db8:a::99',
    };
    const at = systemClock.now();
    console.log(`judged ${outcome.judged} audit events in ${judgeMs.toFixed(0)} ms (${((outcome.judged / judgeMs) * 1000).toFixed(0)} events/s), ${outcome.handedOn} findings handed on`);
    console.log(`assessStart, ${CALLS.toLocaleString('en')} calls per case:`);
    for (const [label, ip] of Object.entries(cases)) {
      const verdict = runner.assessStart(ip, at);
      for (let i = 0; i < 10_000; i += 1) runner.assessStart(ip, at);
      const started = performance.now();
      for (let i = 0; i < CALLS; i += 1) runner.assessStart(ip, at);
      const nsPerCall = ((performance.now() - started) * 1e6) / CALLS;
      console.log(`  ${label.padEnd(34)} ${nsPerCall.toFixed(0).padStart(6)} ns/call  → ${verdict ? `${verdict.detectorId}/${verdict.rule}` : 'allowed'}`);
    }
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
