/**
 * Helpers that keep personal data out of delivery errors. Channel errors end up in logs, metrics
 * labels and the outbox row's last-error column, none of which may hold a full address, a full
 * number or a message text (the text may carry a one-time code).
 */

/**
 * Masks a phone number down to its last two digits, e.g. `+15551234567` → `+•••67`. The length is
 * not kept either, because a country prefix plus length narrows a number down a lot.
 */
export function maskPhone(value: string): string {
  const lastTwo = /(\d{2})$/.exec(value)?.[1];
  return lastTwo === undefined ? '+•••' : `+•••${lastTwo}`;
}

/**
 * Masks an email address to its first character and its domain, e.g. `alice@example.org` →
 * `a•••@example.org`. The domain stays because it is what an operator needs to see when a whole
 * provider starts refusing mail.
 */
export function maskEmail(value: string): string {
  const at = value.lastIndexOf('@');
  if (at <= 0) return '•••';
  const domain = value.slice(at + 1).replace(/[^\p{L}\p{N}.-]/gu, '');
  return `${value.charAt(0)}•••@${domain}`;
}

/**
 * Makes a third-party diagnostic safe to put in an error message: every occurrence of `secret`
 * (case-insensitive) becomes `replacement`, control characters become spaces (no forged log
 * lines) and the result is cut to `maxLength`, because a remote server chooses this text.
 */
export function scrub(text: string, secret: string, replacement: string, maxLength = 200): string {
  let out = text;
  if (secret !== '') {
    const escaped = secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    out = out.replace(new RegExp(escaped, 'giu'), () => replacement);
  }
  // eslint-disable-next-line no-control-regex -- control characters are exactly what we remove
  out = out.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return out.length > maxLength ? `${out.slice(0, maxLength)}…` : out;
}
