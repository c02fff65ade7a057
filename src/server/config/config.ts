import { z } from 'zod';
import { parseDocument } from 'yaml';
import { smsConfigSchema, smtpConfigSchema } from '../../adapters/channel/create-channels.ts';
import { auditExportConfigSchema } from '../../adapters/audit-export/config.ts';
import { directoryConfigSchema } from '../../adapters/directory/ldap/config.ts';
import { alertsConfigSchema } from '../../adapters/alert-delivery/create-deliverers.ts';
import { portalConfigSchema } from '../pages/portal-config.ts';
import { webauthnConfigSchema } from './webauthn.ts';
import { helpdeskConfigSchema } from '../http/routes/helpdesk.ts';
import { simSwapConfigSchema } from '../../adapters/sim-swap/camara-sim-swap.ts';
import { isPhoneRegion } from '../../core/phone/e164.ts';

/*
 * Server configuration: an optional latchkey.yaml plus LATCHKEY_* environment overrides, validated
 * once at start. Environment names map to keys by upper snake case, with `__` for nesting:
 * LATCHKEY_PORT → port, LATCHKEY_DATA_DIR → dataDir, LATCHKEY_SMTP__HOST → smtp.host.
 */

const port = z.coerce.number().int().min(0).max(65_535);

/** `audit`: signed checkpoints (always on) and retention (off until `retention.days` is set). */
const auditEvidenceConfigSchema = z
  .object({
    checkpoint: z
      .object({
        everyEvents: z.int().min(1).max(1_000_000).default(1_000).describe('Sign the chain head after this many new events…'),
        everyHours: z.coerce.number().positive().max(24 * 31).default(1).describe('…or once the oldest unsigned event is this old, whichever comes first.'),
        pollIntervalMs: z.int().min(10).max(3_600_000).default(10_000).describe('How often the checkpointer looks.'),
      })
      .strict()
      .default({ everyEvents: 1_000, everyHours: 1, pollIntervalMs: 10_000 }),
    retention: z
      .object({
        days: z.int().min(1).max(36_500).describe('Purge events older than this, once every export sink has them.'),
        intervalMinutes: z.int().min(1).max(10_080).default(60).describe('How often the purge runs.'),
        maxEventsPerRun: z
          .int()
          .min(1)
          .max(10_000_000)
          .default(20_000)
          .describe('At most this many events per purge transaction (which holds the chain head: appends wait about 12 ms per 1,000); the worker runs batches back to back.'),
      })
      .strict()
      .optional()
      .describe('Unset: events are kept forever.'),
    signingKey: z.string().min(1).optional().describe('Ed25519 private key (PKCS#8 PEM) that signs checkpoints; unset means signingKeyFile or a key file in dataDir.'),
    signingKeyFile: z.string().min(1).optional().describe('File holding the signing key (mode 0600); unset means <dataDir>/audit-signing.key, created on first start.'),
    instance: z.string().min(1).max(128).optional().describe('Name this instance signs as; default the host name.'),
  })
  .strict()
  .refine((audit) => audit.signingKey === undefined || audit.signingKeyFile === undefined, { message: 'set signingKey or signingKeyFile, not both', path: ['signingKeyFile'] });

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
    policyRefresh: z
      .object({
        pollIntervalMs: z.coerce.number().int().min(100).max(60_000).default(2_000).describe('How often a running server checks the database for a newer published policy version.'),
      })
      .strict()
      .default({ pollIntervalMs: 2_000 })
      .describe('Picking up policy versions published by another instance or the CLI (docs/policy-paths.md#publishing).'),
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
    directory: directoryConfigSchema.prefault({}).describe('The directory Latchkey fronts: builtin, ldap or active_directory.'),
    breachedPasswordApi: z.object({ url: z.url() }).strict().optional().describe('Have I Been Pwned-compatible range API base URL.'),
    simSwap: simSwapConfigSchema.optional().describe('CAMARA SIM Swap API gateway; unset means no SIM swap check runs.'),
    phone: z
      .object({
        defaultRegion: z
          .string()
          .transform((value) => value.trim().toUpperCase())
          .refine(isPhoneRegion, 'must be an ISO 3166-1 alpha-2 country code with a phone numbering plan, e.g. GB or US')
          .optional()
          .describe('Region for phone numbers typed in national format (07700 900123); unset means international form only.'),
      })
      .strict()
      .default({}),
    outbox: z
      .object({
        pollIntervalMs: z.coerce.number().int().min(10).max(60_000).default(500),
        maxAttempts: z.coerce.number().int().min(1).max(100).default(8),
      })
      .strict()
      .default({ pollIntervalMs: 500, maxAttempts: 8 }),
    reports: z
      .object({
        staleEnrollmentDays: z.coerce.number().int().min(1).max(3_650).default(180).describe('An active method not used for this many days counts as stale.'),
        helpdesk: z
          .object({
            // Decimals arrive from the environment as text ("0.8"), hence coerce.
            deflectionShare: z.coerce.number().min(0).max(1).default(0.8).describe('Share of completed self-service resets and unlocks that would otherwise have been a helpdesk call.'),
            minutesPerCall: z.coerce.number().min(0).max(600).default(10).describe('Helpdesk minutes one password call takes.'),
            costPerCall: z.coerce.number().min(0).max(100_000).default(25).describe('Cost of one helpdesk call, in `currency`.'),
            currency: z.string().regex(/^[A-Z]{3}$/, 'must be a three-letter ISO 4217 code such as EUR').default('USD'),
          })
          .strict()
          .default({ deflectionShare: 0.8, minutesPerCall: 10, costPerCall: 25, currency: 'USD' }),
      })
      .strict()
      .default({ staleEnrollmentDays: 180, helpdesk: { deflectionShare: 0.8, minutesPerCall: 10, costPerCall: 25, currency: 'USD' } })
      .describe('Usage reports: the stale-enrollment threshold and the helpdesk-savings estimate.'),
    audit: auditEvidenceConfigSchema.default(auditEvidenceConfigSchema.parse({})).describe('Signed checkpoints and retention of the audit log.'),
    auditExport: auditExportConfigSchema.prefault({}).describe('Forwarding of the audit log to syslog, JSON Lines files and HTTP collectors.'),
    alerts: alertsConfigSchema.describe('Where alert notifications go (e-mail, webhooks, syslog) and how often.'),
    securityAdmins: z
      .object({
        emails: z
          .union([z.array(z.string()), z.string().transform((value) => value.split(',').map((item) => item.trim()).filter(Boolean))])
          .pipe(z.array(z.email('must be e-mail addresses')).max(50))
          .default([])
          .describe('Addresses told of every privileged reset or unlock, besides the directory accounts policy adminRoles makes security admins (a list, or comma-separated).'),
      })
      .strict()
      .prefault({})
      .describe('Who hears of privileged recoveries (docs/privileged-accounts.md).'),
    admin: z
      .object({
        sessionIdleSeconds: z.coerce.number().int().min(60).max(3_600).default(900).describe('An admin-console session unused this long ends (PRIV-1: shorter than the portal’s).'),
        sessionLifetimeSeconds: z.coerce.number().int().min(900).max(43_200).default(28_800).describe('An admin-console session ends this long after sign-in, however much it is used.'),
        roleRecheckSeconds: z.coerce.number().int().min(10).max(900).default(300).describe('Roles are re-read from the directory’s groups at least this often while a session is used.'),
      })
      .strict()
      .prefault({})
      .describe('Admin-console sessions (docs/admin.md); who is an admin is set by policy adminRoles.'),
    helpdesk: helpdeskConfigSchema.prefault({}).describe('The helpdesk path: approval link base URL and the manager addresses that approve passes (docs/helpdesk-and-tap.md).'),
    portal: portalConfigSchema.prefault({}).describe('The self-service pages at `/`: public URL (https turns on Secure cookies and HSTS) and branding.'),
    webauthn: webauthnConfigSchema.prefault({}).describe('The relying party of passkeys: RP id, name and origins (docs/passkeys.md); defaults follow portal.publicUrl.'),
    detectors: z
      .object({
        geoipDatabase: z.string().min(1).optional().describe('MaxMind-format City or Country database (.mmdb); needed by new_country and impossible_travel.'),
        asnDatabase: z.string().min(1).optional().describe('MaxMind-format ASN database, when the GeoIP database has no autonomous_system_number.'),
        denyListFiles: z
          .union([z.array(z.string().min(1)), z.string().transform((value) => value.split(',').map((item) => item.trim()).filter(Boolean))])
          .default([])
          .describe('Files of addresses and CIDR networks to distrust (one per line, # comments), e.g. Tor exit nodes.'),
        refreshIntervalSeconds: z.int().min(1).max(86_400).default(60).describe('How often changed deny-list and GeoIP files are re-read (also on SIGHUP).'),
        pollIntervalMs: z.int().min(10).max(60_000).default(1_000).describe('How often the detector worker reads new audit events.'),
      })
      .strict()
      .prefault({})
      .describe('The anomaly detectors’ data files and worker; the detectors themselves are set in the policy.'),
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
