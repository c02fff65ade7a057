import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AUDIT_EVENT_TYPES } from '../../src/core/audit/events.ts';
import { ERROR_CODES } from '../../src/core/errors.ts';
import { STATUS_BY_CODE } from '../../src/server/http/problem.ts';

/*
 * Catalog tests keep the docs honest (STYLE §5): every audit event type and every error code is
 * documented, nothing extra is, and the documented text and HTTP status match the code.
 */

const docsDir = fileURLToPath(new URL('../../docs/', import.meta.url));
const readDoc = (name: string): string => readFileSync(join(docsDir, name), 'utf8');

/** The lines under `## heading`, up to the next heading of the same or a higher level. */
function section(markdown: string, heading: string): string {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.trim() === `## ${heading}`);
  if (start < 0) throw new Error(`no "## ${heading}" section`);
  const end = lines.findIndex((line, index) => index > start && /^#{1,2} /.test(line));
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

interface CatalogRow {
  readonly name: string;
  readonly cells: readonly string[];
}

/** Table rows whose first cell is a name in backticks; header and separator rows are skipped. */
function catalogRows(text: string): CatalogRow[] {
  const rows: CatalogRow[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('|')) continue;
    const cells = line
      .replace(/^\|/, '')
      .replace(/\|\s*$/, '')
      .split('|')
      .map((cell) => cell.trim());
    const name = /^`([^`]+)`$/.exec(cells[0] ?? '')?.[1];
    if (name !== undefined) rows.push({ name, cells });
  }
  return rows;
}

/** What the docs have that the catalog lacks, and the reverse; both empty when they agree. */
function difference(documented: readonly string[], catalog: readonly string[]): { missing: string[]; extra: string[] } {
  return {
    missing: catalog.filter((name) => !documented.includes(name)),
    extra: documented.filter((name) => !catalog.includes(name)),
  };
}

const duplicates = (names: readonly string[]): string[] => names.filter((name, index) => names.indexOf(name) !== index);

describe('docs/audit-events.md', () => {
  const rows = catalogRows(section(readDoc('audit-events.md'), 'Event types'));
  const documented = rows.map((row) => row.name);

  it('documents every audit event type and nothing else', () => {
    expect(difference(documented, Object.keys(AUDIT_EVENT_TYPES))).toEqual({ missing: [], extra: [] });
    expect(duplicates(documented)).toEqual([]);
  });

  it('describes each event type with the catalog text', () => {
    const mismatched = rows
      .filter((row) => row.cells[1] !== AUDIT_EVENT_TYPES[row.name as keyof typeof AUDIT_EVENT_TYPES])
      .map((row) => `${row.name}: "${row.cells[1] ?? ''}"`);
    expect(mismatched).toEqual([]);
  });

  it('names an outcome for each event type', () => {
    const outcome = /^(success|failure|info)(, (success|failure|info))*$/;
    expect(rows.filter((row) => !outcome.test(row.cells[2] ?? '')).map((row) => row.name)).toEqual([]);
  });

  it('documents every field an event carries', () => {
    const fields = catalogRows(section(readDoc('audit-events.md'), 'Fields every event carries')).map((row) => row.name);
    expect(fields).toEqual(
      expect.arrayContaining(['seq', 'id', 'at', 'type', 'actor', 'subject', 'outcome', 'reason', 'ip', 'userAgent', 'department', 'tier', 'flowId', 'data', 'prevHash', 'hash']),
    );
  });
});

describe('docs/error-codes.md', () => {
  const rows = catalogRows(section(readDoc('error-codes.md'), 'Codes'));
  const documented = rows.map((row) => row.name);

  it('documents every error code and nothing else', () => {
    expect(difference(documented, Object.keys(ERROR_CODES))).toEqual({ missing: [], extra: [] });
    expect(duplicates(documented)).toEqual([]);
  });

  it('maps every error code to a status in problem.ts', () => {
    expect(difference(Object.keys(STATUS_BY_CODE), Object.keys(ERROR_CODES))).toEqual({ missing: [], extra: [] });
  });

  it('documents the HTTP status that problem.ts sends for each code', () => {
    const mismatched = rows
      .filter((row) => Number(row.cells[1]) !== STATUS_BY_CODE[row.name as keyof typeof STATUS_BY_CODE])
      .map((row) => `${row.name}: documented ${row.cells[1] ?? '(none)'}, sent ${STATUS_BY_CODE[row.name as keyof typeof STATUS_BY_CODE]}`);
    expect(mismatched).toEqual([]);
  });

  it('gives each code the catalog meaning and advice for the person', () => {
    const mismatched = rows
      .filter((row) => row.cells[2] !== ERROR_CODES[row.name as keyof typeof ERROR_CODES] || (row.cells[3] ?? '') === '')
      .map((row) => row.name);
    expect(mismatched).toEqual([]);
  });
});

describe('docs/glossary.md', () => {
  it('defines every term of the shared vocabulary', () => {
    const glossary = readDoc('glossary.md');
    const terms = ['account', 'subject', 'method', 'enrollment', 'challenge', 'gate', 'grant', 'tier', 'finding', 'alert', 'decoy', 'flow token', 'outbox', 'dev outbox'];
    expect(terms.filter((term) => !glossary.includes(`**${term}**`))).toEqual([]);
  });
});

describe('links between docs', () => {
  it('point at files that exist', () => {
    const files = readdirSync(docsDir, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.md'));
    const broken: string[] = [];
    for (const file of files) {
      const text = readDoc(file);
      for (const match of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        const target = match[1] ?? '';
        if (/^[a-z]+:/.test(target)) continue;
        if (!existsSync(resolve(dirname(join(docsDir, file)), target))) broken.push(`${file} → ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
