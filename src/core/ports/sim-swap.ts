/** The operator's answer: whether the SIM behind the number changed within the asked window. */
export type SimSwapResult =
  | { readonly kind: 'checked'; readonly swapped: boolean; readonly checkedAt: Date }
  /** No answer in time, a 5xx, a refused token or a malformed reply: nothing is known. */
  | { readonly kind: 'unavailable'; readonly reason: 'timeout' | 'network' | 'http_status' | 'malformed' };

/**
 * Asks the mobile operator (through a CAMARA SIM Swap API gateway) whether the SIM card behind a
 * number was swapped recently — the step that precedes an SMS-based account takeover.
 *
 * Failure semantics: never throws; every failure is `unavailable`, and what that means (send the
 * code anyway or refuse the method) is the policy's `simSwap.onUnavailable`. One network round trip
 * per call, bounded by the adapter's timeout; safe to call concurrently. The number is E.164 and
 * leaves Latchkey only to the configured gateway: implementations never log it.
 */
export interface SimSwapCheck {
  checkRecentSwap(e164: string, maxAgeHours: number): Promise<SimSwapResult>;
}
