import { z } from 'zod';
import type { RelyingParty } from '../../core/methods/method.ts';
import { ConfigError } from './config.ts';

const origin = z
  .string()
  .trim()
  .regex(/^https?:\/\/[^/?#]+$/, 'must be origins such as https://reset.example.com (scheme, host, optional port; no path)');

/**
 * `webauthn`: the relying party of passkeys. Unset fields follow `portal.publicUrl` (its host is
 * the RP id, its origin the only origin); without a public URL, development defaults apply: RP id
 * `localhost` and origin `http://localhost:<port>` (browsers treat localhost as a secure context).
 */
export const webauthnConfigSchema = z
  .object({
    rpId: z
      .string()
      .trim()
      .toLowerCase()
      .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, 'must be a host name such as example.com (no scheme, port or path)')
      .optional()
      .describe('The relying party id passkeys are bound to: the portal host or a parent domain of it. Default: the host of portal.publicUrl, else localhost.'),
    rpName: z.string().trim().min(1).max(64).optional().describe('The name authenticators show. Default: the portal organisation name.'),
    origins: z
      .preprocess((value) => (typeof value === 'string' ? value.split(',').map((item) => item.trim()).filter(Boolean) : value), z.array(origin).min(1).max(10))
      .optional()
      .describe('Exact origins (list or comma-separated) pages that use passkeys are served from. Default: the origin of portal.publicUrl, else http://localhost:<port>.'),
  })
  .strict();

export type WebauthnConfig = z.infer<typeof webauthnConfigSchema>;

/**
 * The relying party from configuration and its defaults. Every origin's host must be the RP id or
 * lie under it, and must be https except on localhost: browsers refuse anything else, so such a
 * configuration is a start-up error naming the key rather than passkeys that never work.
 */
export function resolveRelyingParty(config: WebauthnConfig, defaults: { readonly publicUrl: string | undefined; readonly port: number; readonly organisation: string }): RelyingParty {
  const publicOrigin = defaults.publicUrl ? new URL(defaults.publicUrl).origin : null;
  const id = config.rpId ?? (publicOrigin ? new URL(publicOrigin).hostname : 'localhost');
  const origins = config.origins ?? [publicOrigin ?? `http://localhost:${defaults.port}`];
  for (const item of origins) {
    const url = new URL(item);
    if (url.hostname !== id && !url.hostname.endsWith(`.${id}`)) throw new ConfigError([`webauthn.origins (LATCHKEY_WEBAUTHN__ORIGINS): ${item} is not on the relying party id ${id} or a subdomain of it`]);
    if (url.protocol !== 'https:' && url.hostname !== 'localhost') throw new ConfigError([`webauthn.origins (LATCHKEY_WEBAUTHN__ORIGINS): ${item} must use https (browsers allow passkeys over http only on localhost)`]);
  }
  return { id, name: config.rpName ?? defaults.organisation, origins: origins.map((item) => new URL(item).origin) };
}
