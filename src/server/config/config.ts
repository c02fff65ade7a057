import { z } from 'zod';
import { parseDocument } from 'yaml';
import { smsConfigSchema, smtpConfigSchema } from '../../adapters/channel/create-channels.ts';

/*
 * Server configuration: an optional latchkey.yaml plus LATCHKEY_* environment overrides, validated
 * once at start. Environment names map to keys by upper snake case, with `__` for nesting:
 * LATCHKEY_PORT → port, LATCHKEY_DATA_DIR → dataDir, LATCHKEY_SMTP__HOST → smtp.host.
 */

const port = z.coerce.number().int().min(0).max(65_535);

export const configSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1').describe('Address to listen on.'),
    port: port.default(8080).describe('Port to listen on.'),
    dataDir: z.string().min(1).default('./data').describe('Where the SQLite database and the generated key file live.'),
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL (leave unset for the embedded SQLite database)')
      .optional()
      .describe('PostgreSQL connection URL; unset means SQLite in dataDir.'),
    encryptionKey: z.string().min(1).optional().describe('Key ring `kid:base64key[,kid:base64key]`; unset means a key file in dataDir.'),
    policyFile: z.string().min(1).optional().describe('Policy YAML; unset means the shipped default policy.'),
    trustedProxies: z
      .union([z.array(z.string()), z.string().transform((value) => value.split(',').map((item) => item.trim()).filter(Boolean))])
      .default([])
      .describe('Proxy addresses whose X-Forwarded-For is believed; empty means the socket address is the client.'),
    startResponseFloorMs: z
      .int()
      .min(0)
      .max(2_000)
      .default(25)
      .describe('Reset and unlock starts answer no sooner than this many milliseconds, so known and unknown identifiers share one timing envelope (ENUM-2).'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'silent']).default('info'),
    smtp: smtpConfigSchema.optional().describe('Outgoing mail; unset means messages go to the dev outbox.'),
    sms: smsConfigSchema.optional().describe('Outgoing SMS; unset means messages go to the dev outbox.'),
    breachedPasswordApi: z.object({ url: z.url() }).strict().optional().describe('Have I Been Pwned-compatible range API base URL.'),
    outbox: z
      .object({
        pollIntervalMs: z.coerce.number().int().min(10).max(60_000).default(500),
        maxAttempts: z.coerce.number().int().min(1).max(100).default(8),
      })
      .strict()
      .default({ pollIntervalMs: 500, maxAttempts: 8 }),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

const camel = (snake: string): string => snake.toLowerCase().replace(/_([a-z0-9])/g, (_, char: string) => char.toUpperCase());

/** Turns LATCHKEY_* variables into a nested object, remembering which variable set which key. */
export function environmentOverrides(env: NodeJS.ProcessEnv): { values: Record<string, unknown>; origins: Map<string, string>; raw: Map<string, string> } {
  const values: Record<string, unknown> = {};
  const origins = new Map<string, string>();
  const raw = new Map<string, string>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('LATCHKEY_') || value === undefined || name.startsWith('LATCHKEY_TEST_') || name === 'LATCHKEY_CONFIG') continue;
    const path = name.slice('LATCHKEY_'.length).split('__').map(camel);
    let target = values;
    for (const segment of path.slice(0, -1)) {
      const next = target[segment];
      target = (typeof next === 'object' && next !== null ? next : (target[segment] = {})) as Record<string, unknown>;
    }
    const leaf = path[path.length - 1];
    // Environment values are text; numbers and booleans are read as such so nested schemas need no
    // coercion. A key that wants text gets the original text back (see loadConfig): a password or
    // secret made of digits only must not become a number.
    if (leaf) target[leaf] = /^-?\d+$/.test(value) ? Number(value) : value === 'true' ? true : value === 'false' ? false : value;
    origins.set(path.join('.'), name);
    raw.set(path.join('.'), value);
  }
  return { values, origins, raw };
}

/** The environment variable that sets a key: smtp.requireTls → LATCHKEY_SMTP__REQUIRE_TLS. */
export const environmentName = (key: string): string =>
  `LATCHKEY_${key
    .split('.')
    .map((segment) => segment.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
    .join('__')}`;

function valueAt(object: Record<string, unknown>, path: readonly string[]): unknown {
  let current: unknown = object;
  for (const segment of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

function setAt(object: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let current = object;
  for (const segment of path.slice(0, -1)) current = current[segment] as Record<string, unknown>;
  const leaf = path[path.length - 1];
  if (leaf !== undefined) current[leaf] = value;
}

function merge(base: Record<string, unknown>, override: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const existing = out[key];
    out[key] =
      typeof value === 'object' && value !== null && !Array.isArray(value) && typeof existing === 'object' && existing !== null && !Array.isArray(existing)
        ? merge(existing as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return out;
}

/**
 * Validates configuration from a YAML text (may be null) and the environment. Errors name the key
 * and where it came from: `port (LATCHKEY_PORT): expected a number`; an unknown key is refused the
 * same way (`prot (LATCHKEY_PROT): unknown key`), so a typo never silently falls back to a default.
 */
export function loadConfig(yamlText: string | null, fileName: string, env: NodeJS.ProcessEnv): Config {
  let fromFile: Record<string, unknown> = {};
  if (yamlText !== null) {
    const document = parseDocument(yamlText, { uniqueKeys: true });
    if (document.errors.length > 0) throw new ConfigError(document.errors.map((error) => `${fileName}: ${error.message}`));
    const parsed: unknown = document.toJS();
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError([`${fileName}: the configuration must be a mapping of keys to values`]);
      fromFile = parsed as Record<string, unknown>;
    }
  }
  const { values, origins, raw } = environmentOverrides(env);
  const merged = merge(fromFile, values);
  let result = configSchema.safeParse(merged);
  // A variable read as a number or boolean where the key wants text gets its original text back.
  for (let pass = 0; !result.success && pass < 3; pass += 1) {
    const restore = result.error.issues.filter((issue) => issue.code === 'invalid_type' && issue.expected === 'string' && raw.has(issue.path.join('.')));
    if (restore.length === 0) break;
    for (const issue of restore) setAt(merged, issue.path.map(String), raw.get(issue.path.join('.')));
    result = configSchema.safeParse(merged);
  }
  if (result.success) return result.data;

  const originOf = (key: string): string => {
    const fromEnv = [...origins.entries()].find(([path]) => key === path || key.startsWith(`${path}.`))?.[1];
    if (fromEnv) return fromEnv;
    if (yamlText !== null && valueAt(fromFile, key.split('.')) !== undefined) return fileName;
    // Missing: name every place that could set it.
    return yamlText === null ? environmentName(key) : `${fileName} or ${environmentName(key)}`;
  };
  throw new ConfigError(
    result.error.issues.flatMap((issue) => {
      const key = issue.path.join('.');
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((unknownKey) => {
          const full = key ? `${key}.${unknownKey}` : unknownKey;
          return `${full} (${originOf(full)}): unknown key`;
        });
      }
      const message = /received undefined$/.test(issue.message) ? 'is required' : issue.message;
      return [`${key || '(root)'} (${originOf(key)}): ${message}`];
    }),
  );
}
