import { de } from './de.ts';
import { en, type MessageKey } from './en.ts';

/** Languages the portal speaks; the first is the fallback when nothing else fits. */
export const LANGUAGES = ['en', 'de'] as const;
export type Language = (typeof LANGUAGES)[number];
export type { MessageKey };

export const CATALOGS: Readonly<Record<Language, Readonly<Record<MessageKey, string>>>> = { en, de };

const isLanguage = (value: string): value is Language => (LANGUAGES as readonly string[]).includes(value);

/** Parses a language tag safely: anything not in the catalog list is null. */
export function parseLanguage(value: unknown): Language | null {
  return typeof value === 'string' && isLanguage(value) ? value : null;
}

/**
 * The best catalog for an Accept-Language header (RFC 9110 §12.5.4): highest q first, primary
 * subtag only (`de-AT` → `de`); null when the browser asks for nothing we have.
 */
export function negotiateLanguage(header: string | undefined): Language | null {
  if (!header) return null;
  const ranked = header
    .slice(0, 512)
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((param) => /^\s*q=([01](?:\.\d{1,3})?)\s*$/.exec(param)?.[1]).find((value) => value !== undefined);
      return { primary: tag.trim().toLowerCase().split('-')[0] ?? '', q: q === undefined ? 1 : Number(q), index };
    })
    .filter((entry) => entry.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  return ranked.map((entry) => parseLanguage(entry.primary)).find((language) => language !== null) ?? null;
}

export type Translate = (key: MessageKey, values?: Readonly<Record<string, string | number>>) => string;

/** A translator for one language: `{name}` placeholders are filled as text (the caller escapes). */
export function translator(language: Language): Translate {
  const catalog = CATALOGS[language];
  return (key, values = {}) => catalog[key].replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}
