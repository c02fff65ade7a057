import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/server/config/config.ts';
import { createAlertDeliverers } from '../../src/adapters/alert-delivery/create-deliverers.ts';
import { systemClock } from '../../src/adapters/system/clock.ts';

/* The `alerts` configuration section: what an operator writes, and the errors that name the key. */

const SECRET = 'a-webhook-secret-of-at-least-32-characters';

function problems(yaml: string | null, env: Record<string, string> = {}): string[] {
  try {
    loadConfig(yaml, 'latchkey.yaml', env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error('the configuration was accepted');
}

describe('alerts configuration', () => {
  let dir: string;
  let caFile: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-alerts-config-'));
    caFile = join(dir, 'siem-ca.pem');
    await writeFile(caFile, 'not parsed until a connection is made\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads recipients, named webhooks, syslog and throttle settings from YAML', () => {
    const config = loadConfig(
      [
        'alerts:',
        '  email: { recipients: [soc@corp.test, oncall@corp.test] }',
        '  webhooks:',
        `    soc: { url: "https://hooks.corp.test/latchkey", secret: "${SECRET}" }`,
        `    chat: { url: "https://chat.corp.test/services/X", secret: "${SECRET}", format: slack }`,
        `  syslog: { host: siem.corp.test, caFile: ${JSON.stringify(caFile)} }`,
        '  throttle: { perKeyWindowSeconds: 600, globalPerMinute: 5 }',
      ].join('\n'),
      'latchkey.yaml',
      {},
    );
    expect(config.alerts.email?.recipients).toEqual(['soc@corp.test', 'oncall@corp.test']);
    expect(config.alerts.webhooks['soc']).toEqual({ url: 'https://hooks.corp.test/latchkey', secret: SECRET, format: 'json', timeoutMs: 10_000 });
    expect(config.alerts.webhooks['chat']?.format).toBe('slack');
    expect(config.alerts.syslog).toMatchObject({ host: 'siem.corp.test', port: 6514, tls: true, caFile, facility: 'authpriv', appName: 'latchkey' });
    expect(config.alerts.throttle).toEqual({ perKeyWindowSeconds: 600, globalPerMinute: 5 });
    expect([...createAlertDeliverers(config.alerts, systemClock).keys()].sort()).toEqual(['syslog', 'webhook:chat', 'webhook:soc']);
  });

  it('reads the same from LATCHKEY_ALERTS__* variables, recipients comma-separated', () => {
    const config = loadConfig(null, 'latchkey.yaml', {
      LATCHKEY_ALERTS__EMAIL__RECIPIENTS: 'soc@corp.test, oncall@corp.test',
      LATCHKEY_ALERTS__WEBHOOKS__SOC__URL: 'http://127.0.0.1:9/hook',
      LATCHKEY_ALERTS__WEBHOOKS__SOC__SECRET: SECRET,
      LATCHKEY_ALERTS__THROTTLE__GLOBAL_PER_MINUTE: '3',
    });
    expect(config.alerts.email?.recipients).toEqual(['soc@corp.test', 'oncall@corp.test']);
    expect(config.alerts.webhooks['soc']?.url).toBe('http://127.0.0.1:9/hook');
    expect(config.alerts.throttle.globalPerMinute).toBe(3);
  });

  it('refuses to start with a syslog CA file it cannot read, naming the key', () => {
    const config = loadConfig(`alerts:\n  syslog: { host: siem.corp.test, caFile: ${JSON.stringify(join(dir, 'missing.pem'))} }`, 'latchkey.yaml', {});
    expect(() => createAlertDeliverers(config.alerts, systemClock)).toThrow(/^alerts\.syslog\.caFile: cannot read .*missing\.pem: ENOENT$/);
  });

  it.each([
    ['a webhook URL that is not http(s)', 'alerts:\n  webhooks:\n    soc: { url: "ftp://hooks.corp.test/x", secret: "' + SECRET + '" }', /^alerts\.webhooks\.soc\.url \(latchkey\.yaml\): must be an http/],
    ['a short webhook secret', 'alerts:\n  webhooks:\n    soc: { url: "https://h.corp.test/x", secret: "short" }', /^alerts\.webhooks\.soc\.secret \(latchkey\.yaml\): must be at least 32 characters/],
    ['an unknown webhook format', 'alerts:\n  webhooks:\n    soc: { url: "https://h.corp.test/x", secret: "' + SECRET + '", format: teams }', /^alerts\.webhooks\.soc\.format \(latchkey\.yaml\)/],
    ['a recipient that is not an address', 'alerts:\n  email: { recipients: [soc@corp.test, "not an address"] }', /^alerts\.email\.recipients\.1 \(latchkey\.yaml\): must be e-mail addresses/],
    ['a syslog port out of range', 'alerts:\n  syslog: { host: siem, port: 70000 }', /^alerts\.syslog\.port \(latchkey\.yaml\)/],
    ['a zero global cap', 'alerts:\n  throttle: { globalPerMinute: 0 }', /^alerts\.throttle\.globalPerMinute \(latchkey\.yaml\)/],
    ['a misspelt key', 'alerts:\n  webhook: {}', /^alerts\.webhook \(latchkey\.yaml\): unknown key/],
  ])('refuses %s, naming the key', (_what, yaml, message) => {
    const found = problems(yaml);
    expect(found.some((problem) => message.test(problem)), found.join('\n')).toBe(true);
  });
});
