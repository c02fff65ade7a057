import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/server/config/config.ts';
import { composeLatchkey } from '../../src/server/compose.ts';
import { buildHttpApp } from '../../src/server/http/app.ts';
import { appendEvents, until } from './support.ts';

function problems(yaml: string): string[] {
  try {
    loadConfig(yaml, 'latchkey.yaml', {});
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error('the configuration was accepted');
}

describe('auditExport configuration', () => {
  it('accepts the three sink types with their defaults', () => {
    const config = loadConfig(
      [
        'auditExport:',
        '  sinks:',
        '    - { name: siem, type: syslog, host: logs.example.org, port: 6514, tls: { caFile: /etc/ssl/ca.pem }, format: cef }',
        '    - { name: archive, type: jsonl, path: /var/log/latchkey/audit.jsonl }',
        '    - { name: splunk, type: http, api: splunk_hec, url: "https://splunk.example.org:8088/services/collector/event", token: abc }',
      ].join('\n'),
      'latchkey.yaml',
      { LATCHKEY_AUDIT_EXPORT__POLL_INTERVAL_MS: '250' },
    );
    expect(config.auditExport.pollIntervalMs).toBe(250);
    expect(config.auditExport.sinks).toEqual([
      { name: 'siem', type: 'syslog', host: 'logs.example.org', port: 6514, tls: { caFile: '/etc/ssl/ca.pem' }, format: 'cef', facility: 'authpriv', appName: 'latchkey', enterpriseId: 32473, timeoutMs: 10_000 },
      { name: 'archive', type: 'jsonl', path: '/var/log/latchkey/audit.jsonl', maxBytes: 104_857_600, keep: 10, format: 'json' },
      { name: 'splunk', type: 'http', api: 'splunk_hec', url: 'https://splunk.example.org:8088/services/collector/event', token: 'abc', format: 'json', source: 'latchkey', sourcetype: 'latchkey:audit', timeoutMs: 10_000 },
    ]);
  });

  it.each([
    ['a duplicate sink name', '[{ name: a, type: jsonl, path: /x }, { name: a, type: jsonl, path: /y }]', "auditExport.sinks.1.name (latchkey.yaml): duplicate sink name 'a'"],
    ['a HEC sink without a token', '[{ name: s, type: http, api: splunk_hec, url: "http://127.0.0.1:1/" }]', 'auditExport.sinks.0.token (latchkey.yaml or LATCHKEY_AUDIT_EXPORT__SINKS__0__TOKEN): is required when api is splunk_hec'],
    ['an unknown sink type', '[{ name: s, type: kafka }]', 'auditExport.sinks.0.type (latchkey.yaml)'],
    ['an unknown key', '[{ name: s, type: jsonl, path: /x, rotate: daily }]', 'auditExport.sinks.0.rotate (latchkey.yaml): unknown key'],
    ['a bad body format', '[{ name: s, type: syslog, host: h, port: 514, format: xml }]', 'auditExport.sinks.0.format (latchkey.yaml)'],
    ['a timeout as long as the lease', '[{ name: s, type: http, url: "http://127.0.0.1:1/", timeoutMs: 60000 }]', 'auditExport.sinks.0.timeoutMs (latchkey.yaml): must be shorter than auditExport.leaseSeconds'],
    ['a client certificate without its key', '[{ name: s, type: syslog, host: h, port: 514, tls: { certFile: /c.pem } }]', 'auditExport.sinks.0.tls.keyFile (latchkey.yaml or LATCHKEY_AUDIT_EXPORT__SINKS__0__TLS__KEY_FILE): certFile and keyFile go together'],
  ])('refuses %s, naming the field', (_what, sinks, expected) => {
    expect(problems(`auditExport:\n  sinks: ${sinks}`).join('\n')).toContain(expected);
  });

  it('composes an exporter with one sink per configured entry, exposes its lag as a Prometheus gauge, and stops it on close', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'latchkey-export-config-'));
    try {
      const config = loadConfig(`auditExport:\n  pollIntervalMs: 20\n  sinks:\n    - { name: archive, type: jsonl, path: ${join(dataDir, 'audit.jsonl')} }\n`, 'latchkey.yaml', { LATCHKEY_DATA_DIR: dataDir, LATCHKEY_LOG_LEVEL: 'silent' });
      const latchkey = await composeLatchkey(config);
      const app = await buildHttpApp(latchkey, { logger: false });
      try {
        expect(latchkey.auditExporter.sinks.map((sink) => [sink.name, sink.kind])).toEqual([['archive', 'jsonl']]);
        // The first start already recorded events of its own (the seeded policy version).
        const base = (await latchkey.store.audit.head()).seq;
        await appendEvents(latchkey.store, 5);
        const before = await app.inject({ method: 'GET', url: '/metrics' });
        expect(before.body).toContain(`latchkey_audit_export_lag_events{sink="archive"} ${base + 5}`);
        latchkey.auditExporter.start();
        await until(async () => (await latchkey.store.auditExport.get('archive'))?.deliveredSeq === base + 5, 5_000, 'the export');
        const after = await app.inject({ method: 'GET', url: '/metrics' });
        expect(after.body).toContain('latchkey_audit_export_lag_events{sink="archive"} 0');
        await latchkey.auditExporter.stop();
        expect((await latchkey.store.auditExport.get('archive'))?.leaseOwner).toBeNull();
      } finally {
        await app.close();
        await latchkey.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
