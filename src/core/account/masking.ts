/*
 * Masks for contact data shown back to people (enrollment labels, outbox listings, "we sent a code
 * to …"). The masks reveal a fixed, small amount and never the length of what they hide.
 */

/** The mask character. */
export const MASK = '•';

/**
 * `alice@example.org` → `a•••e@example.org`; a local part shorter than 5 characters shows only its
 * first: `bob@example.org` → `b•••@example.org`. Always three dots. Anything without exactly one
 * `@` becomes `•••`.
 *
 * Why: SECURITY: the owner recognises their address, but someone who sees the label (over a
 * shoulder, in a screenshot, in the admin outbox) cannot recover it, and the dot count does not
 * narrow down its length.
 */
export function maskEmail(address: string): string {
  const at = address.indexOf('@');
  if (at <= 0 || at !== address.lastIndexOf('@')) return MASK.repeat(3);
  const local = Array.from(address.slice(0, at));
  const domain = address.slice(at + 1);
  const first = local[0] ?? '';
  const last = local.length >= 5 ? (local[local.length - 1] ?? '') : '';
  return `${first}${MASK.repeat(3)}${last}@${domain}`;
}

/**
 * `+447700900123` → `+44•••••••23`: the first three characters (the `+` and, roughly, the country
 * code) and the last two, with always seven dots between. A number shorter than eight characters
 * becomes `•••••••`.
 *
 * Why: SECURITY: enough for the owner to tell their phones apart, too little to call or SIM-swap
 * the number, and the fixed dot count hides the number's length.
 */
export function maskPhone(phone: string): string {
  const chars = Array.from(phone);
  if (chars.length < 8) return MASK.repeat(7);
  return `${chars.slice(0, 3).join('')}${MASK.repeat(7)}${chars.slice(-2).join('')}`;
}
