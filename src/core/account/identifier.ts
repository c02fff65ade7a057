/*
 * The one canonical form of usernames and email addresses (INP-3). Accounts are created, looked up
 * and compared only through canonicalIdentifier, so two spellings that a person (or a mail server)
 * would treat as one name always meet, and two that are different never collide.
 */

/** Longest identifier accepted, in UTF-16 code units, before and after normalisation. */
export const MAX_IDENTIFIER_LENGTH = 256;

/** The canonical form, or a refusal (which never says why: the caller answers like an unknown account). */
export type CanonicalResult = { readonly ok: true; readonly value: string } | { readonly ok: false };

/** Control, format (zero-width, bidi), surrogate, private-use and unassigned code points. */
const INVISIBLE_OR_CONTROL = /\p{C}/u;
/** Any whitespace or separator, including no-break and ideographic spaces, line and paragraph separators. */
const SPACE = /[\s\p{Z}]/u;

/**
 * Unicode scripts (long names as ECMAScript `\p{Script=…}` spells them). Common (digits,
 * punctuation, `@`) and Inherited (combining marks) are neutral and never counted.
 */
const SCRIPT_NAMES = [
  'Latin', 'Greek', 'Cyrillic', 'Armenian', 'Hebrew', 'Arabic', 'Syriac', 'Thaana', 'Nko', 'Samaritan', 'Mandaic',
  'Devanagari', 'Bengali', 'Gurmukhi', 'Gujarati', 'Oriya', 'Tamil', 'Telugu', 'Kannada', 'Malayalam', 'Sinhala',
  'Thai', 'Lao', 'Tibetan', 'Myanmar', 'Georgian', 'Hangul', 'Ethiopic', 'Cherokee', 'Canadian_Aboriginal', 'Ogham',
  'Runic', 'Khmer', 'Mongolian', 'Hiragana', 'Katakana', 'Bopomofo', 'Han', 'Yi', 'Old_Italic', 'Gothic', 'Deseret',
  'Tagalog', 'Hanunoo', 'Buhid', 'Tagbanwa', 'Limbu', 'Tai_Le', 'Linear_B', 'Ugaritic', 'Shavian', 'Osmanya',
  'Cypriot', 'Braille', 'Buginese', 'Coptic', 'New_Tai_Lue', 'Glagolitic', 'Tifinagh', 'Syloti_Nagri', 'Old_Persian',
  'Kharoshthi', 'Balinese', 'Cuneiform', 'Phoenician', 'Phags_Pa', 'Sundanese', 'Lepcha', 'Ol_Chiki', 'Vai',
  'Saurashtra', 'Kayah_Li', 'Rejang', 'Lycian', 'Carian', 'Lydian', 'Cham', 'Tai_Tham', 'Tai_Viet', 'Avestan',
  'Egyptian_Hieroglyphs', 'Imperial_Aramaic', 'Inscriptional_Pahlavi', 'Inscriptional_Parthian', 'Javanese', 'Kaithi',
  'Lisu', 'Meetei_Mayek', 'Old_South_Arabian', 'Old_Turkic', 'Bamum', 'Batak', 'Brahmi', 'Chakma', 'Meroitic_Cursive',
  'Meroitic_Hieroglyphs', 'Miao', 'Sharada', 'Sora_Sompeng', 'Takri', 'Adlam', 'Bhaiksuki', 'Marchen', 'Newa', 'Osage',
  'Tangut', 'Masaram_Gondi', 'Nushu', 'Soyombo', 'Zanabazar_Square', 'Dogra', 'Gunjala_Gondi', 'Makasar',
  'Medefaidrin', 'Hanifi_Rohingya', 'Sogdian', 'Old_Sogdian', 'Elymaic', 'Nandinagari', 'Nyiakeng_Puachue_Hmong',
  'Wancho', 'Chorasmian', 'Dives_Akuru', 'Khitan_Small_Script', 'Yezidi', 'Cypro_Minoan', 'Old_Uyghur', 'Tangsa',
  'Toto', 'Vithkuqi', 'Kawi', 'Nag_Mundari', 'Caucasian_Albanian', 'Bassa_Vah', 'Duployan', 'Elbasan', 'Grantha',
  'Pahawh_Hmong', 'Khojki', 'Linear_A', 'Mahajani', 'Manichaean', 'Mende_Kikakui', 'Modi', 'Mro', 'Old_North_Arabian',
  'Nabataean', 'Palmyrene', 'Pau_Cin_Hau', 'Old_Permic', 'Psalter_Pahlavi', 'Siddham', 'Khudawadi', 'Tirhuta',
  'Warang_Citi', 'Ahom', 'Anatolian_Hieroglyphs', 'Hatran', 'Multani', 'Old_Hungarian', 'SignWriting',
];

/** Script testers, built once; names this engine's Unicode tables lack are skipped. */
const SCRIPT_TESTERS: readonly { readonly name: string; readonly pattern: RegExp }[] = SCRIPT_NAMES.flatMap((name) => {
  try {
    return [{ name, pattern: new RegExp(`^\\p{Script=${name}}$`, 'u') }];
  } catch {
    return [];
  }
});
const NEUTRAL = /^[\p{Script=Common}\p{Script=Inherited}]$/u;

/**
 * Script combinations one writing system legitimately uses together (UTS #39 "highly
 * restrictive"): Japanese, Chinese with Bopomofo, Korean, each optionally with Latin.
 */
const ALLOWED_MIXES: readonly ReadonlySet<string>[] = [
  new Set(['Latin', 'Han', 'Hiragana', 'Katakana']),
  new Set(['Latin', 'Han', 'Bopomofo']),
  new Set(['Latin', 'Han', 'Hangul']),
];

function scriptOf(char: string): string | null {
  const code = char.codePointAt(0) ?? 0;
  if (code < 0x80) return /[a-z]/i.test(char) ? 'Latin' : null;
  if (NEUTRAL.test(char)) return null;
  for (const tester of SCRIPT_TESTERS) if (tester.pattern.test(char)) return tester.name;
  return `Unknown:${code.toString(16)}`;
}

/** True when the scripts of `part` form a single writing system (UTS #39 highly restrictive). */
function isSingleWritingSystem(part: string): boolean {
  const scripts = new Set<string>();
  for (const char of part) {
    const script = scriptOf(char);
    if (script !== null) scripts.add(script);
  }
  if (scripts.size <= 1) return true;
  return ALLOWED_MIXES.some((allowed) => [...scripts].every((script) => allowed.has(script)));
}

/**
 * Canonicalises a username or an email address; the ONE form used at account creation, lookup,
 * enrollment fingerprinting and comparison (INP-3). The rule, in order:
 *
 * 1. trim leading and trailing whitespace;
 * 2. refuse if empty or longer than {@link MAX_IDENTIFIER_LENGTH};
 * 3. refuse any control, format (zero-width space U+200B, bidi marks, soft hyphen…), surrogate,
 *    private-use or unassigned code point, and any whitespace inside;
 * 4. NFKC (fullwidth `ｍｉｋｅ` becomes `mike`, decomposed é equals precomposed é);
 * 5. locale-independent `toLowerCase()` (so `İ` becomes `i̇`, which is not `i`: Turkish dotted and
 *    dotless i stay distinct from ASCII i), then NFKC again so the result is stable;
 * 6. re-check length, controls and whitespace (normalisation may expand or reveal them);
 * 7. refuse more than one `@`;
 * 8. refuse a local part or domain that mixes scripts (Latin with Cyrillic, Greek…), allowing only
 *    the combinations one writing system uses (UTS #39 highly restrictive: Han with Kana, Hangul or
 *    Bopomofo, plus Latin).
 *
 * Why: SECURITY: without one canonical form an attacker registers `ｍｉｋｅ`, `mike\u200b` or
 * `mіke` (Cyrillic і) and either collides with the victim's account (recovery mail for one goes
 * to the other) or impersonates it in listings. Each step closes one such variant; step 5 avoids
 * locale-dependent case mapping, which is how `MİKE` would otherwise fold onto `mike`.
 */
export function canonicalIdentifier(raw: string): CanonicalResult {
  if (typeof raw !== 'string') return { ok: false };
  const trimmed = raw.trim();
  if (trimmed === '' || trimmed.length > MAX_IDENTIFIER_LENGTH) return { ok: false };
  if (INVISIBLE_OR_CONTROL.test(trimmed) || SPACE.test(trimmed)) return { ok: false };
  const value = trimmed.normalize('NFKC').toLowerCase().normalize('NFKC');
  if (value === '' || value.length > MAX_IDENTIFIER_LENGTH) return { ok: false };
  if (INVISIBLE_OR_CONTROL.test(value) || SPACE.test(value)) return { ok: false };
  const parts = value.split('@');
  if (parts.length > 2) return { ok: false };
  if (!parts.every(isSingleWritingSystem)) return { ok: false };
  return { ok: true, value };
}

/**
 * The canonical form of an email address: the same function as {@link canonicalIdentifier}, so a
 * username that is an address and the work email of record compare equal.
 */
export const canonicalEmail = canonicalIdentifier;

const LOCAL_CHAR = /^[\p{L}\p{M}\p{N}!#$%&'*+/=?^_`{|}~.-]+$/u;
const DOMAIN_LABEL = /^[\p{L}\p{M}\p{N}](?:[\p{L}\p{M}\p{N}-]*[\p{L}\p{M}\p{N}])?$/u;

/**
 * True for a plain, single email address: exactly one `@`; a local part of letters, digits and
 * the RFC 5322 atom symbols, without leading, trailing or doubled dots (no quoted strings, no
 * comments); a domain of at least two dot-separated labels of letters, digits and inner hyphens;
 * no spaces, commas, semicolons, angle brackets, quotes, CR or LF; at most 254 characters (local
 * part at most 64).
 *
 * Why: SECURITY: the value becomes a recipient. `alice@corp,attacker@evil.test`, `a@b.test\r\nBcc:`
 * or `"x"<attacker@evil.test>` would send a reset code to a second, attacker-chosen mailbox;
 * anything outside this narrow shape is refused rather than parsed.
 */
export function isEmailAddress(value: string): boolean {
  if (typeof value !== 'string' || value.length > 254) return false;
  const at = value.indexOf('@');
  if (at <= 0 || at !== value.lastIndexOf('@')) return false;
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  if (local.length > 64 || !LOCAL_CHAR.test(local)) return false;
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return false;
  const labels = domain.split('.');
  if (labels.length < 2) return false;
  return labels.every((label) => label.length <= 63 && DOMAIN_LABEL.test(label));
}
