import { getCountries, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';

/** E.164: `+`, a non-zero country code digit, 7 to 15 digits in all. */
export const E164_PATTERN = /^\+[1-9]\d{6,14}$/;

/**
 * ITU-T E.164 codes that name no country: international freephone (+800), shared cost (+808),
 * Inmarsat (+870), UPT (+878), satellite (+881), international networks (+882, +883), OCHA (+888),
 * international premium rate (+979) and trial services (+991).
 *
 * SECURITY: none is a person's own mobile, and texts to them are billed at premium rates: a
 * registration that sends a verification code there is SMS pumping paid by the organisation
 * (INP-7). National premium-rate ranges are refused by type (per-country metadata) below.
 */
const NON_GEOGRAPHIC = /^\+(?:800|808|870|878|881|882|883|888|979|991)/;

/**
 * What a person may type: digits, one leading `+`, and the separators people write numbers with.
 * SECURITY: letters (vanity numbers, `ext.` suffixes) and line breaks are refused before parsing,
 * so a second number or an extension can never ride along into a message destination (INP-8).
 */
const TYPED_NUMBER = /^\+?[0-9 ()./-]{4,30}$/;

const REGIONS: ReadonlySet<string> = new Set(getCountries());

/** Whether `code` is an ISO 3166-1 alpha-2 region libphonenumber knows numbering rules for. */
export function isPhoneRegion(code: string): boolean {
  return REGIONS.has(code);
}

export type PhoneNumberVerdict = { readonly ok: true; readonly e164: string } | { readonly ok: false; readonly message: string };

/** A format example for messages: the UK drama range, which reaches nobody. */
const EXAMPLE = '+447700900123';

/**
 * Parses a phone number as a person typed it and returns its E.164 form, the one form every number
 * is stored, fingerprinted and sent to in, so `+44 7700 900123`, `+44-7700-900123` and (with default
 * region GB) `07700 900123` are one number. National-format input needs `defaultRegion`.
 *
 * The number must have a possible length for its country (libphonenumber's per-country length
 * rules). Whether the range is currently assigned is not checked: numbering plans change faster than
 * the bundled metadata, and an unassigned number simply fails its verification code.
 * Messages name what to fix and never echo the input.
 */
export function normalisePhoneNumber(input: string, defaultRegion: string | null): PhoneNumberVerdict {
  const typed = input.trim();
  const international = typed.startsWith('+');
  if (!TYPED_NUMBER.test(typed)) {
    return { ok: false, message: `must be a phone number written with digits (spaces, dashes, dots and brackets are fine), e.g. ${EXAMPLE}` };
  }
  if (!international && defaultRegion === null) {
    return { ok: false, message: `must be in international E.164 format: + then country code and number, e.g. ${EXAMPLE}` };
  }
  const region = international || defaultRegion === null || !isPhoneRegion(defaultRegion) ? undefined : (defaultRegion as CountryCode);
  const parsed = parsePhoneNumberFromString(typed, region === undefined ? undefined : { defaultCountry: region });
  if (!parsed || !E164_PATTERN.test(parsed.number)) {
    return { ok: false, message: `is not a phone number: start with + and the country code, e.g. ${EXAMPLE}` };
  }
  if (!parsed.isPossible()) {
    return { ok: false, message: `has too few or too many digits for a +${parsed.countryCallingCode} number: check it and include the whole number, e.g. ${EXAMPLE}` };
  }
  // SECURITY: national premium-rate ranges (+44 909…, +1 900…, +49 900…) are as much SMS pumping as
  // +979; the bundled max metadata knows them per country (INP-7).
  if (NON_GEOGRAPHIC.test(parsed.number) || parsed.getType() === 'PREMIUM_RATE') {
    return { ok: false, message: 'must be a mobile number of a country: satellite, international network and premium-rate numbers are not accepted' };
  }
  return { ok: true, e164: parsed.number };
}
