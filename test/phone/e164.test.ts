import { describe, expect, it } from 'vitest';
import { isPhoneRegion, normalisePhoneNumber } from '../../src/core/phone/e164.ts';

const e164 = (input: string, region: string | null = null): string | null => {
  const verdict = normalisePhoneNumber(input, region);
  return verdict.ok ? verdict.e164 : null;
};

const refusal = (input: string, region: string | null = null): string => {
  const verdict = normalisePhoneNumber(input, region);
  if (verdict.ok) throw new Error(`${JSON.stringify(input)} was accepted as ${verdict.e164}`);
  return verdict.message;
};

describe('phone numbers normalised to E.164', () => {
  it('reads one number written in every usual international way as the same E.164 number', () => {
    const forms = ['+447700900123', '+44 7700 900123', '+44-7700-900123', '+44 (0) 7700 900123', ' +44.7700.900.123 ', '+44 (7700) 900 123'];
    expect(new Set(forms.map((form) => e164(form)))).toEqual(new Set(['+447700900123']));
  });

  it('reads national format with the configured default region, and the same number with another region as another number', () => {
    expect(e164('07700 900123', 'GB')).toBe('+447700900123');
    expect(e164('(202) 555-0143', 'US')).toBe('+12025550143');
    expect(e164('030 1234567', 'DE')).toBe('+49301234567');
    // A number written in international form ignores the default region.
    expect(e164('+12025550143', 'GB')).toBe('+12025550143');
  });

  it('refuses national format without a default region, saying how to write it', () => {
    const message = refusal('07700 900123');
    expect(message).toMatch(/E\.164/);
    expect(message).toContain('+447700900123');
  });

  it('refuses numbers that cannot exist, with a message a person can act on and without echoing the input', () => {
    expect(refusal('+0447700900123')).toMatch(/country code/);
    expect(refusal('+12345')).toMatch(/start with \+ and the country code/);
    expect(refusal('+1234567890123456')).toMatch(/start with \+ and the country code/);
    expect(refusal('+44 7700 9001')).toMatch(/too few or too many digits for a \+44 number/);
    expect(refusal('+44 7700 9001')).not.toContain('7700 9001');
    expect(refusal('')).toMatch(/written with digits/);
    expect(refusal('call me')).toMatch(/written with digits/);
  });

  it('refuses letters, extensions and a second number on another line (nothing rides along into a destination)', () => {
    expect(refusal('+447700900123\n+15550100')).toMatch(/written with digits/);
    expect(refusal('+1 800 FLOWERS')).toMatch(/written with digits/);
    expect(refusal('+44 7700 900123 ext. 12')).toMatch(/written with digits/);
  });

  it('refuses satellite, international-network and premium-rate numbers (SMS pumping)', () => {
    for (const number of ['+80012345678', '+881612345678', '+882161234567', '+979123456789']) {
      expect(refusal(number)).toMatch(/mobile number of a country/);
    }
  });

  it('knows which default regions exist', () => {
    expect(isPhoneRegion('GB')).toBe(true);
    expect(isPhoneRegion('US')).toBe(true);
    expect(isPhoneRegion('gb')).toBe(false);
    expect(isPhoneRegion('XX')).toBe(false);
  });
});
