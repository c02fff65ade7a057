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
export function environmentOverrides(env: NodeJS.ProcessEnv): { values: Record<string, unknown>; origins: Map<string, string> } {
  const values: Record<string, unknown> = {};
  const origins = new Map<string, string>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('LATCHKEY_') || value === undefined || name.startsWith('LATCHKEY_TEST_') || name === 'LATCHKEY_CONFIG') continue;
    const path = name.slice('LATCHKEY_'.length).split('__').map(camel);
    let target = values;
    for (const segment of path.slice(0, -1)) {
      const next = target[segment];
      target = (typeof next === 'object' && next !== null ? next : (target[segment] = {})) as Record<string, unknown>;
    }
    const leaf = path[path.length - 1];
    // Environment values are text; numbers and booleans are read as such so nested schemas need no coercion.
    if (leaf) target[leaf] = /^-?\d+$/.test(value) ? Number(value) : value === 'true' ? true : value === 'false' ? false : value;
    origins.set(path.join('.'), name);
  }
  return { values, origins };
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
 * and where it came from: `port (LATCHKEY_PORT): expected a number`.
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
  const { values, origins } = environmentOverrides(env);
  const result = configSchema.safeParse(merge(fromFile, values));
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const key = issue.path.join('.');
      const origin = [...origins.entries()].find(([path]) => key === path || key.startsWith(`${path}.`))?.[1] ?? fileName;
      return `${key || '(root)'} (${origin}): ${issue.message}`;
    }),
  );
}
