import { z } from 'zod';
import type { SimSwapCheck, SimSwapResult } from '../../core/ports/sim-swap.ts';

/** Schema of the `simSwap` server configuration section (a CAMARA SIM Swap API gateway). */
export const simSwapConfigSchema = z
  .strictObject({
    baseUrl: z
      .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
      .describe('API root of the CAMARA SIM Swap gateway, without the `/sim-swap/v1` path (e.g. https://gateway.example/camara).'),
    token: z.string().min(1).max(4096).describe('Bearer access token for the gateway (two-legged client credentials).'),
    timeoutMs: z.coerce.number().int().min(100).max(30_000).default(3_000).describe('How long one check may take before it counts as unavailable (default 3000).'),
  })
  .describe('SIM swap checks before an SMS code is sent or accepted (docs/sim-swap-and-travel.md).');

export type SimSwapConfig = z.output<typeof simSwapConfigSchema>;

/** CAMARA allows `maxAge` from 1 to 2400 hours. */
const MAX_AGE_LIMIT_HOURS = 2_400;

const checkReply = z.object({ swapped: z.boolean() });

/**
 * SimSwapCheck over the CAMARA SIM Swap API v1: `POST {baseUrl}/sim-swap/v1/check` with
 * `{ phoneNumber, maxAge }` and a bearer token, answered `{ swapped }`.
 *
 * Every failure (no answer within `timeoutMs`, a connection error, any non-2xx status including a
 * refused token, a reply that is not `{ swapped: boolean }`) is `unavailable`; the policy decides
 * what that means. The number is sent only in the request body, never logged, never put in the URL.
 */
export function createCamaraSimSwapCheck(config: SimSwapConfig, options: { readonly now?: () => Date } = {}): SimSwapCheck {
  const endpoint = `${config.baseUrl.replace(/\/+$/, '')}/sim-swap/v1/check`;
  const now = options.now ?? (() => new Date());
  return {
    async checkRecentSwap(e164: string, maxAgeHours: number): Promise<SimSwapResult> {
      const maxAge = Math.min(MAX_AGE_LIMIT_HOURS, Math.max(1, Math.round(maxAgeHours)));
      let response: Response;
      try {
        response = await fetch(endpoint, {
          method: 'POST',
          headers: { authorization: `Bearer ${config.token}`, 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ phoneNumber: e164, maxAge }),
          signal: AbortSignal.timeout(config.timeoutMs),
          redirect: 'error',
        });
      } catch (error) {
        const timedOut = error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError');
        return { kind: 'unavailable', reason: timedOut ? 'timeout' : 'network' };
      }
      if (!response.ok) {
        await response.body?.cancel().catch(() => undefined);
        return { kind: 'unavailable', reason: 'http_status' };
      }
      let body: unknown;
      try {
        body = await response.json();
      } catch (error) {
        const timedOut = error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError');
        return { kind: 'unavailable', reason: timedOut ? 'timeout' : 'malformed' };
      }
      const parsed = checkReply.safeParse(body);
      if (!parsed.success) return { kind: 'unavailable', reason: 'malformed' };
      return { kind: 'checked', swapped: parsed.data.swapped, checkedAt: now() };
    },
  };
}
