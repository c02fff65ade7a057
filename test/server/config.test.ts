import { describe, expect, it } from 'vitest';
import { ConfigError, environmentName, loadConfig, type Config } from '../../src/server/config/config.ts';

/** The problems of a configuration that must be refused; fails the test if it loads. */
function problemsOf(yamlText: string | null, env: Record<string, string>, fileName = 'latchkey.yaml'): readonly string[] {
  try {
    loadConfig(yamlText, fileName, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    // The message shown to the operator carries every problem.
    for (const problem of problems) expect((error as ConfigError).message).toContain(problem);
    return problems;
  }
  throw new Error('the configuration was accepted');
}

const SECRET = 'a-webhook-secret-of-at-least-32-characters';

describe('server configuration', () => {
  it('defaults to 127.0.0.1:8080, ./data, SQLite, info logging and the dev outbox when nothing is set', () => {
    const config = loadConfig(null, 'latchkey.yaml', {});

    expect(config).toEqual<Config>({
      host: '127.0.0.1',
      port: 8080,
      dataDir: './data',
      policyRefresh: { pollIntervalMs: 2_000 },
      trustedProxies: [],
      startResponseFloorMs: 25,
      logLevel: 'info',
      outbox: { pollIntervalMs: 500, maxAttempts: 8 },
      directory: { kind: 'builtin', startTls: false, attributes: {}, groups: {}, mustChangeAtNextSignIn: false, enforceHistoryOnReset: false, poolSize: 4, connectTimeoutMs: 5_000, operationTimeoutMs: 10_000 },
      reports: { staleEnrollmentDays: 180, helpdesk: { deflectionShare: 0.8, minutesPerCall: 10, costPerCall: 25, currency: 'USD' } },
      auditExport: { pollIntervalMs: 1_000, batchSize: 200, retryInitialMs: 1_000, retryMaxMs: 300_000, leaseSeconds: 60, sinks: [] },
      audit: { checkpoint: { everyEvents: 1_000, everyHours: 1, pollIntervalMs: 10_000 } },
      alerts: { webhooks: {}, throttle: { perKeyWindowSeconds: 900, globalPerMinute: 20 }, delivery: { pollIntervalMs: 1000, maxAttempts: 10 } },
      detectors: { denyListFiles: [], refreshIntervalSeconds: 60, pollIntervalMs: 1_000 },
      phone: {},
      admin: { sessionIdleSeconds: 900, sessionLifetimeSeconds: 28_800, roleRecheckSeconds: 300 },
      helpdesk: { managerEmails: {} },
      securityAdmins: { emails: [] },
      portal: { defaultLanguage: 'en', branding: { primaryColour: '#1d4ed8', primaryTextColour: '#ffffff', headerColour: '#0f172a', headerTextColour: '#ffffff' }, helpdesk: {} },
      webauthn: {},
    });
    expect(config.databaseUrl).toBeUndefined();
    expect(config.smtp).toBeUndefined();
    expect(config.sms).toBeUndefined();
  });

  it('reads LATCHKEY_* variables as keys, numbers as numbers, and ignores other variables', () => {
    const config = loadConfig(null, 'latchkey.yaml', {
      LATCHKEY_PORT: '9090',
      LATCHKEY_HOST: '0.0.0.0',
      LATCHKEY_DATA_DIR: '/var/lib/latchkey',
      LATCHKEY_LOG_LEVEL: 'warn',
      LATCHKEY_TRUSTED_PROXIES: '10.0.0.1, 10.0.0.2',
      LATCHKEY_OUTBOX__MAX_ATTEMPTS: '3',
      // Not configuration: the test suite's own variables, the config file's path, and the rest of the environment.
      LATCHKEY_TEST_DATABASE_URL: 'postgres://elsewhere/test',
      LATCHKEY_CONFIG: '/etc/latchkey.yaml',
      PORT: '1',
      HOME: '/root',
    });

    expect(config.port).toBe(9090);
    expect(config.host).toBe('0.0.0.0');
    expect(config.dataDir).toBe('/var/lib/latchkey');
    expect(config.logLevel).toBe('warn');
    expect(config.trustedProxies).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(config.outbox).toEqual({ pollIntervalMs: 500, maxAttempts: 3 });
    expect(config.databaseUrl).toBeUndefined();
  });

  it('maps a double underscore to a nested key: LATCHKEY_SMTP__HOST is smtp.host, with the section defaults filled in', () => {
    const config = loadConfig(null, 'latchkey.yaml', {
      LATCHKEY_SMTP__HOST: 'mail.corp.test',
      LATCHKEY_SMTP__PORT: '2525',
      LATCHKEY_SMTP__FROM: 'Latchkey <no-reply@corp.test>',
      LATCHKEY_SMTP__REQUIRE_TLS: 'false',
    });

    expect(config.smtp).toEqual({ host: 'mail.corp.test', port: 2525, secure: false, requireTls: false, from: 'Latchkey <no-reply@corp.test>', timeoutMs: 15_000 });
  });

  it('keeps a secret made only of digits as text, with its leading zeros', () => {
    const config = loadConfig(null, 'latchkey.yaml', {
      LATCHKEY_SMTP__HOST: 'mail.corp.test',
      LATCHKEY_SMTP__FROM: 'no-reply@corp.test',
      LATCHKEY_SMTP__USER: '4711',
      LATCHKEY_SMTP__PASSWORD: '000123456789',
      LATCHKEY_ENCRYPTION_KEY: '20260131',
    });

    expect(config.smtp?.user).toBe('4711');
    expect(config.smtp?.password).toBe('000123456789');
    expect(config.encryptionKey).toBe('20260131');
  });

  it('merges the YAML file with the environment: a variable overrides one key and leaves its siblings from the file', () => {
    const yaml = ['host: 0.0.0.0', 'port: 8443', 'dataDir: /srv/latchkey', 'smtp:', '  host: mail.corp.test', '  port: 587', '  from: no-reply@corp.test', 'outbox:', '  pollIntervalMs: 1000'].join('\n');

    const config = loadConfig(yaml, 'latchkey.yaml', { LATCHKEY_PORT: '9000', LATCHKEY_SMTP__HOST: 'relay.corp.test' });

    expect(config.host).toBe('0.0.0.0');
    expect(config.port).toBe(9000);
    expect(config.dataDir).toBe('/srv/latchkey');
    expect(config.smtp).toMatchObject({ host: 'relay.corp.test', port: 587, from: 'no-reply@corp.test', requireTls: true });
    expect(config.outbox).toEqual({ pollIntervalMs: 1000, maxAttempts: 8 });
  });

  it('reads an empty YAML file as no settings', () => {
    expect(loadConfig('# nothing here yet\n', 'latchkey.yaml', {}).port).toBe(8080);
  });

  it('names the key and the variable that set it when an environment value is wrong', () => {
    expect(problemsOf(null, { LATCHKEY_PORT: 'eighty' })).toEqual([expect.stringMatching(/^port \(LATCHKEY_PORT\): .*number/)]);
    expect(problemsOf(null, { LATCHKEY_PORT: '70000' })).toEqual([expect.stringMatching(/^port \(LATCHKEY_PORT\): .*65535/)]);
    expect(problemsOf(null, { LATCHKEY_LOG_LEVEL: 'loud' })).toEqual([expect.stringMatching(/^logLevel \(LATCHKEY_LOG_LEVEL\): .*"silent"/)]);
    expect(problemsOf(null, { LATCHKEY_OUTBOX__MAX_ATTEMPTS: '0' })).toEqual([expect.stringMatching(/^outbox\.maxAttempts \(LATCHKEY_OUTBOX__MAX_ATTEMPTS\): /)]);
  });

  it('names the file when the wrong value came from it, and the variable when the variable overrode it', () => {
    expect(problemsOf('port: eighty\n', {})).toEqual([expect.stringMatching(/^port \(latchkey\.yaml\): /)]);
    expect(problemsOf('port: 8080\n', { LATCHKEY_PORT: 'eighty' })).toEqual([expect.stringMatching(/^port \(LATCHKEY_PORT\): /)]);
  });

  it('names both places that could set a missing required key', () => {
    expect(problemsOf(null, { LATCHKEY_SMTP__HOST: 'mail.corp.test' })).toEqual(['smtp.from (LATCHKEY_SMTP__FROM): is required']);
    expect(problemsOf('smtp:\n  host: mail.corp.test\n', {})).toEqual(['smtp.from (latchkey.yaml or LATCHKEY_SMTP__FROM): is required']);
  });

  it('refuses an unknown key, from the environment or from the file, naming where it came from', () => {
    expect(problemsOf(null, { LATCHKEY_PROT: '8080' })).toEqual(['prot (LATCHKEY_PROT): unknown key']);
    expect(problemsOf(null, { LATCHKEY_SMTP__HOSTNAME: 'mail', LATCHKEY_SMTP__HOST: 'mail', LATCHKEY_SMTP__FROM: 'a@corp.test' })).toEqual(['smtp.hostname (LATCHKEY_SMTP__HOSTNAME): unknown key']);
    expect(problemsOf('porrt: 8080\nlogLevel: info\n', {})).toEqual(['porrt (latchkey.yaml): unknown key']);
  });

  it('reports every problem at once rather than the first', () => {
    const problems = problemsOf('port: -1\n', { LATCHKEY_LOG_LEVEL: 'loud', LATCHKEY_DATABSE_URL: 'postgres://x/y' });

    expect(problems).toHaveLength(3);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^port \(latchkey\.yaml\): /),
        expect.stringMatching(/^logLevel \(LATCHKEY_LOG_LEVEL\): /),
        'databseUrl (LATCHKEY_DATABSE_URL): unknown key',
      ]),
    );
  });

  it('accepts postgres:// and postgresql:// database URLs', () => {
    expect(loadConfig(null, 'x', { LATCHKEY_DATABASE_URL: 'postgres://latchkey@db.corp.test:5432/latchkey' }).databaseUrl).toBe('postgres://latchkey@db.corp.test:5432/latchkey');
    expect(loadConfig('databaseUrl: postgresql://db/latchkey?sslmode=require\n', 'x', {}).databaseUrl).toBe('postgresql://db/latchkey?sslmode=require');
  });

  it.each([
    ['a MySQL URL', 'mysql://db/latchkey'],
    ['a SQLite path', './data/latchkey.db'],
    ['an http URL', 'http://db:5432/latchkey'],
    ['an empty value', ''],
  ])('refuses %s as the database URL, naming LATCHKEY_DATABASE_URL', (_label, url) => {
    expect(problemsOf(null, { LATCHKEY_DATABASE_URL: url })).toEqual([expect.stringMatching(/^databaseUrl \(LATCHKEY_DATABASE_URL\): must be a postgres:\/\/ URL/)]);
  });

  it('refuses YAML that is not a mapping, or that repeats a key', () => {
    expect(problemsOf('- port\n- 8080\n', {})).toEqual(['latchkey.yaml: the configuration must be a mapping of keys to values']);
    expect(problemsOf('port: 1\nport: 2\n', {})).toEqual([expect.stringMatching(/^latchkey\.yaml: .*unique/)]);
  });

  it('requires STARTTLS for SMTP unless requireTls is set to false explicitly', () => {
    const base = { LATCHKEY_SMTP__HOST: 'mail.corp.test', LATCHKEY_SMTP__FROM: 'no-reply@corp.test' };
    expect(loadConfig(null, 'x', base).smtp?.requireTls).toBe(true);
    expect(loadConfig(null, 'x', { ...base, LATCHKEY_SMTP__REQUIRE_TLS: 'false' }).smtp?.requireTls).toBe(false);
  });

  it('reads an SMS webhook from the environment and refuses a short HMAC secret, naming its variable', () => {
    const config = loadConfig(null, 'x', { LATCHKEY_SMS__PROVIDER: 'webhook', LATCHKEY_SMS__URL: 'https://sms.corp.test/hook', LATCHKEY_SMS__HMAC_SECRET: SECRET });
    expect(config.sms).toEqual({ provider: 'webhook', url: 'https://sms.corp.test/hook', hmacSecret: SECRET, timeoutMs: 10_000 });

    expect(problemsOf(null, { LATCHKEY_SMS__PROVIDER: 'webhook', LATCHKEY_SMS__URL: 'https://sms.corp.test/hook', LATCHKEY_SMS__HMAC_SECRET: 'short' })).toEqual([
      expect.stringMatching(/^sms\.hmacSecret \(LATCHKEY_SMS__HMAC_SECRET\): .*32/),
    ]);
    expect(problemsOf(null, { LATCHKEY_SMS__PROVIDER: 'carrier-pigeon' })).toEqual([expect.stringMatching(/^sms\.provider \(LATCHKEY_SMS__PROVIDER\): /)]);
  });

  // An SMS gateway on the local network or the same host is the common deployment of the webhook.
  it.each(['http://127.0.0.1:8025/sms', 'http://localhost:8025/sms', 'http://10.20.0.5/sms', 'http://[::1]:8025/sms'])('accepts an SMS webhook receiver at %s', (url) => {
    const config = loadConfig(null, 'x', { LATCHKEY_SMS__PROVIDER: 'webhook', LATCHKEY_SMS__URL: url, LATCHKEY_SMS__HMAC_SECRET: SECRET });
    expect(config.sms).toMatchObject({ provider: 'webhook', url });
  });

  it('refuses an SMS webhook URL that is not http or https', () => {
    expect(problemsOf(null, { LATCHKEY_SMS__PROVIDER: 'webhook', LATCHKEY_SMS__URL: 'file:///etc/passwd', LATCHKEY_SMS__HMAC_SECRET: SECRET })).toEqual([
      expect.stringMatching(/^sms\.url \(LATCHKEY_SMS__URL\): /),
    ]);
  });

  it('spells the variable of every key the way environmentOverrides reads it back', () => {
    expect(environmentName('port')).toBe('LATCHKEY_PORT');
    expect(environmentName('dataDir')).toBe('LATCHKEY_DATA_DIR');
    expect(environmentName('smtp.requireTls')).toBe('LATCHKEY_SMTP__REQUIRE_TLS');
    expect(environmentName('outbox.pollIntervalMs')).toBe('LATCHKEY_OUTBOX__POLL_INTERVAL_MS');
    const roundTrip = loadConfig(null, 'x', { [environmentName('outbox.pollIntervalMs')]: '250', [environmentName('dataDir')]: '/d' });
    expect(roundTrip.outbox.pollIntervalMs).toBe(250);
    expect(roundTrip.dataDir).toBe('/d');
  });
});
