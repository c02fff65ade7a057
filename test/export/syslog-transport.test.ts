import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSyslogTransport, formatRfc5424 } from '../../src/adapters/audit-export/syslog-transport.ts';
import { startRsyslog, type Rsyslog } from '../support/rsyslog.ts';

const message = (n: number): string =>
  formatRfc5424({
    facility: 'auth',
    severity: 'info',
    timestamp: new Date(Date.UTC(2030, 0, 1, 9, 0, n)),
    hostname: 'latchkey-test',
    appName: 'latchkey',
    msgId: 'test.sent',
    structuredData: [{ id: 'latchkey@32473', params: { id: `event-${n}`, seq: String(n) } }],
    message: `{"n":${n},"text":"line ${n} with ünïcode"}`,
  });

describe.each([{ tls: false }, { tls: true }])('syslog transport to a real rsyslogd (tls: $tls)', ({ tls }) => {
  let rsyslog: Rsyslog;
  beforeAll(async () => {
    rsyslog = await startRsyslog({ tls });
  });
  afterAll(async () => {
    await rsyslog.stop();
  });

  it('delivers octet-counted messages in order and resolves only after the collector read them', async () => {
    const transport = createSyslogTransport({ host: rsyslog.host, port: rsyslog.port, ...(tls && rsyslog.caFile ? { tls: { caFile: rsyslog.caFile, serverName: 'localhost' } } : {}) });
    await transport.send([1, 2, 3].map(message));
    await transport.send([4, 5].map(message));
    const received = await rsyslog.waitFor((lines) => lines.length >= 5, 5_000);
    expect(received).toEqual([1, 2, 3, 4, 5].map(message));
    await transport.close();
  });

  it.runIf(tls)('refuses a collector whose certificate does not chain to the configured CA', async () => {
    const transport = createSyslogTransport({ host: rsyslog.host, port: rsyslog.port, timeoutMs: 2_000, tls: {} });
    await expect(transport.send([message(8)])).rejects.toThrow(/certificate/);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await rsyslog.messages()).some((line) => line.includes('event-8'))).toBe(false);
  });

  it('rejects when nothing listens, so the caller retries', async () => {
    await rsyslog.pause();
    try {
      const transport = createSyslogTransport({ host: rsyslog.host, port: rsyslog.port, timeoutMs: 2_000, ...(tls && rsyslog.caFile ? { tls: { caFile: rsyslog.caFile } } : {}) });
      await expect(transport.send([message(9)])).rejects.toThrow(/syslog 127\.0\.0\.1/);
    } finally {
      await rsyslog.resume();
    }
  });
});
