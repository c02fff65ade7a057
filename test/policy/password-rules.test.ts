import { describe, expect, it } from 'vitest';
import {
  breachedRejection,
  checkPassword,
  COMMON_PASSWORD_COUNT,
  countPasswordCharacters,
} from '../../src/core/policy/password-rules.ts';
import type { PasswordContext, PasswordRejectionCode, PasswordVerdict } from '../../src/core/policy/password-rules.ts';
import type { PasswordRules } from '../../src/core/policy/schema.ts';

const RULES: PasswordRules = { minLength: 15, maxLength: 256, blocklist: true, contextWords: true, breachedCheck: false };
const CONTEXT: PasswordContext = {
  username: 'alice',
  displayName: 'Alice Smith',
  organisationName: 'Latchkey',
  contextWords: ['latchkey', 'harbourtown'],
};

function check(password: string, rules: PasswordRules = RULES, context: PasswordContext = CONTEXT): PasswordVerdict {
  return checkPassword(password, rules, context);
}

function codes(verdict: PasswordVerdict): PasswordRejectionCode[] {
  return verdict.ok ? [] : verdict.reasons.map((reason) => reason.code);
}

/** A long password with no pattern: words from a fixed list, chosen by a simple deterministic generator. */
function passphraseOfLength(length: number): string {
  const words = ['amber', 'violet', 'quarry', 'lantern', 'meadow', 'pixel', 'saffron', 'tundra', 'orbit', 'juniper', 'falcon', 'copper'];
  let text = '';
  let seed = 7;
  while ([...text].length < length) {
    seed = (seed * 31 + 11) % 101;
    text += `${words[seed % words.length] ?? 'x'}${seed % 10} `;
  }
  return [...text].slice(0, length - 1).join('') + 'z';
}

describe('checkPassword', () => {
  it('PWD-1 refuses 14 characters and accepts 15 under the default minimum', () => {
    const fourteen = 'kettle orbit 9';
    const fifteen = 'kettle orbit 94';
    expect(countPasswordCharacters(fourteen)).toBe(14);
    expect(check(fourteen)).toEqual({ ok: false, reasons: [{ code: 'too_short', message: 'Use at least 15 characters (this one has 14).' }] });
    expect(check(fifteen)).toEqual({ ok: true });
  });

  it('PWD-2 accepts 64- and 200-character passwords and counts every character', () => {
    const sixtyFour = passphraseOfLength(64);
    const twoHundred = passphraseOfLength(200);
    expect(countPasswordCharacters(sixtyFour)).toBe(64);
    expect(countPasswordCharacters(twoHundred)).toBe(200);
    expect(check(sixtyFour)).toEqual({ ok: true });
    expect(check(twoHundred)).toEqual({ ok: true });
    // Nothing is truncated: a minimum of 64 is met by 64 characters and missed by 63 …
    const strict: PasswordRules = { ...RULES, minLength: 64 };
    expect(check(sixtyFour, strict)).toEqual({ ok: true });
    expect(codes(check(sixtyFour.slice(1), strict))).toEqual(['too_short']);
    // … and the 257th character is counted against a maximum of 256.
    const tooLong = passphraseOfLength(257);
    expect(check(tooLong)).toEqual({ ok: false, reasons: [{ code: 'too_long', message: 'Use at most 256 characters (this one has 257).' }] });
  });

  it('PWD-2 counts characters as code points after NFKC, so emoji and decomposed accents count once', () => {
    expect(countPasswordCharacters('🦄🦄🦄')).toBe(3);
    expect(countPasswordCharacters('e\u0301')).toBe(1);
    expect(countPasswordCharacters('ﬁ')).toBe(2);
  });

  it('PWD-3 accepts a passphrase of plain lower-case words without any composition rule', () => {
    expect(check('correct horse battery staple long')).toEqual({ ok: true });
    expect(check('purple elephants dance quietly')).toEqual({ ok: true });
  });

  it('PWD-4 refuses a common password with digits appended: Password1234567', () => {
    expect(codes(check('Password1234567'))).toContain('common');
  });

  it('PWD-4 refuses long entries of the common-password list', () => {
    for (const entry of ['1qaz2wsx3edc4rfv', 'passwordpassword', 'qwertyuiop12345']) {
      expect(codes(check(entry)), entry).toContain('common');
    }
  });

  it('PWD-4 refuses common passwords in disguise: substitutions, symbols and spaces', () => {
    for (const disguised of ['P@ssw0rd12345678', '@dm1n1234567890', '!!!!iloveyou2024!!!!', 'pass word 1234567', 'Qwerty123456789!']) {
      expect(codes(check(disguised)), disguised).toContain('common');
    }
  });

  it('PWD-4 refuses the organisation name with a year and symbols: Latchkey2025!!!!!!', () => {
    const verdict = check('Latchkey2025!!!!!!');
    expect(codes(verdict)).toEqual(['context']);
    expect(verdict.ok ? '' : verdict.reasons[0]?.message).toContain('“latchkey”');
  });

  it('PWD-4 refuses the username repeated to length', () => {
    expect(codes(check('alicealicealice'))).toEqual(['context', 'repetitive']);
    expect(codes(check('alice2024alice2024'))).toContain('context');
  });

  it('PWD-4 refuses passwords built from the display name, a policy context word or the username with substitutions', () => {
    expect(codes(check('Alice.Smith.1990!'))).toEqual(['context']);
    expect(codes(check('harbourtown1234567'))).toEqual(['context']);
    expect(codes(check('@l1c3-latchkey-2024'))).toEqual(['context']);
  });

  it('PWD-4 accepts a passphrase that merely contains a name', () => {
    expect(check('alice grows tomatoes on the balcony')).toEqual({ ok: true });
  });

  it('PWD-4 refuses one short unit repeated and simple runs', () => {
    for (const weak of ['aaaaaaaaaaaaaaa', 'abcabcabcabcabc', 'xyzxyzxyzxyzxyz!!', 'abcdefghijklmnop', '123456789012345', 'zyxwvutsrqponmlk']) {
      expect(codes(check(weak)), weak).toContain('repetitive');
    }
  });

  it('PWD-4 accepts a long random-looking password that repeats no short unit', () => {
    expect(check('839aa1029384756')).toEqual({ ok: true });
    expect(check('tQ7#vLp2!mZr9&kW')).toEqual({ ok: true });
  });

  it('PWD-4 checks well beyond the top 3,000 common passwords', () => {
    expect(COMMON_PASSWORD_COUNT).toBeGreaterThan(40_000);
  });

  it('PWD-5 accepts Unicode with emoji, accents, ligatures and spaces', () => {
    expect(check('🦄 purple unicorns dance at dawn 🌅')).toEqual({ ok: true });
    expect(check('pässwörd ✓ ﬁ long enough')).toEqual({ ok: true });
    expect(check('日本語のパスフレーズはとても長いです')).toEqual({ ok: true });
  });

  it('PWD-10 refuses an empty, whitespace-only or invisible password as blank, and nothing else', () => {
    for (const blank of ['', ' ', '               ', '\t\n', '\u0000', '\u200b\u200b']) {
      expect(check(blank), JSON.stringify(blank)).toEqual({
        ok: false,
        reasons: [{ code: 'blank', message: 'Enter a password; spaces or invisible characters alone are not a password.' }],
      });
    }
  });

  it('reports every reason at once, each with a message a person can act on', () => {
    const verdict = check('password');
    expect(verdict.ok).toBe(false);
    if (verdict.ok) return;
    expect(verdict.reasons.map((reason) => reason.code)).toEqual(['too_short', 'common']);
    expect(verdict.reasons[0]?.message).toBe('Use at least 15 characters (this one has 8).');
  });

  it('skips the blocklist and context checks when the rules turn them off', () => {
    const lenient: PasswordRules = { ...RULES, blocklist: false, contextWords: false };
    expect(check('Password1234567', lenient)).toEqual({ ok: true });
    expect(check('Latchkey2025!!!!!!', lenient)).toEqual({ ok: true });
    expect(check('aaaaaaaaaaaaaaa', lenient)).toEqual({ ok: true });
  });

  it('never changes its verdict because of letter case', () => {
    expect(codes(check('PASSWORD1234567'))).toContain('common');
    expect(codes(check('LATCHKEY2025!!!!!!'))).toContain('context');
  });
});

describe('breachedRejection', () => {
  it('refuses a password seen in breaches, saying how often', () => {
    expect(breachedRejection(1)?.message).toContain('seen once');
    expect(breachedRejection(9_659_365)).toEqual({
      code: 'breached',
      message: 'This password has appeared in a data breach (seen 9,659,365 times), so attackers try it early. Choose a different one.',
    });
  });

  it('returns null for a password never seen', () => {
    expect(breachedRejection(0)).toBeNull();
    expect(breachedRejection(Number.NaN)).toBeNull();
  });
});
