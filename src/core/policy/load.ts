import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, YAMLError } from 'yaml';
import { z } from 'zod';
import type { Policy } from './schema.ts';
import { policySchema } from './schema.ts';

/**
 * One problem in a policy document, located in the source: 1-based line and column, the dotted
 * path of the offending key (`tiers.standard.gatesRequired`, `tiers.privileged.allowedMethods[2]`;
 * empty for the document itself or a YAML syntax error) and a message an operator can act on.
 */
export interface PolicyError {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly path: string;
  readonly message: string;
}

/** The outcome of {@link parsePolicy}: the validated policy, or every problem found, in source order. */
export type PolicyParseResult = { ok: true; policy: Policy } | { ok: false; errors: PolicyError[] };

type PathSegment = string | number;

/** Offsets into the source for one schema path. */
interface Located {
  /** Whether every segment of the path exists in the document. */
  readonly found: boolean;
  /** The value node when found; otherwise the closest existing key (or collection) on the way. */
  readonly valueOffset: number;
  /** The key of the last mapping entry on the way (or the document start). */
  readonly keyOffset: number;
}

/** Marks messages produced by zod's defaults, so they can be told apart from the schema's own wording. */
const DEFAULT_MESSAGE = '\u0000default';

/**
 * Parses and validates a policy document. The text is YAML (one document; duplicate keys are
 * errors); the value must match `policySchema` exactly, with no unknown keys. Every error carries
 * the file name, the line and column of the offending node (the value for a wrong value, the key
 * for an unknown key, the closest existing parent key for a missing key) and the schema path, so
 * an operator can fix a refused policy without guessing (STYLE §1.4). Pure: the caller reads the file.
 */
export function parsePolicy(text: string, fileName: string): PolicyParseResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number, path: string, message: string): PolicyError => {
    const { line, col } = lineCounter.linePos(offset);
    return { file: fileName, line, column: col, path, message };
  };

  const syntaxErrors = yamlErrors(doc, [...doc.errors, ...doc.warnings], at);
  if (syntaxErrors.length > 0) return { ok: false, errors: sortErrors(syntaxErrors) };

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, errors: [at(0, '', `the document cannot be read as data: ${reason}`)] };
  }

  const result = policySchema.safeParse(data, { error: () => DEFAULT_MESSAGE });
  if (result.success) return { ok: true, policy: result.data };

  const errors: PolicyError[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.filter((segment): segment is PathSegment => typeof segment !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const keyPath = [...path, key];
        const located = locate(doc, keyPath);
        errors.push(at(located.keyOffset, formatPath(keyPath), unknownKeyMessage(key, knownKeysAt(path))));
      }
      continue;
    }
    const present = hasPath(data, path);
    const located = locate(doc, path);
    if (!present) {
      const key = path[path.length - 1];
      const message = key === undefined ? 'the policy document is empty; expected a mapping of policy keys' : `missing required key '${String(key)}'`;
      errors.push(at(located.keyOffset, formatPath(path), message));
      continue;
    }
    const offset = located.found ? located.valueOffset : located.keyOffset;
    const schema = schemaAt(path);
    const expectsInteger = schema instanceof z.ZodNumber && schema.isInt === true;
    errors.push(at(offset, formatPath(path), issueMessage(issue, valueAt(data, path), expectsInteger)));
  }
  return { ok: false, errors: sortErrors(dedupe(errors)) };
}

/**
 * Formats an error as `FILE:LINE:COL path: message`, the form compilers and editors recognise,
 * so `latchkey policy check` output is clickable in a terminal or CI log.
 */
export function formatPolicyError(error: PolicyError): string {
  const where = `${error.file}:${error.line}:${error.column}`;
  return error.path === '' ? `${where} ${error.message}` : `${where} ${error.path}: ${error.message}`;
}

/** Turns YAML parser errors and warnings into policy errors; duplicate keys get a message naming the key and its first line. */
function yamlErrors(
  doc: Document.Parsed,
  problems: readonly YAMLError[],
  at: (offset: number, path: string, message: string) => PolicyError,
): PolicyError[] {
  const duplicates = duplicateKeys(doc);
  const errors: PolicyError[] = [];
  let reportedDuplicates = false;
  for (const problem of problems) {
    if (problem.code === 'DUPLICATE_KEY' && duplicates.length > 0) {
      if (!reportedDuplicates) {
        for (const duplicate of duplicates) {
          const first = at(duplicate.firstOffset, '', '');
          errors.push(at(duplicate.offset, duplicate.path, `duplicate key '${duplicate.key}' (first defined on line ${first.line})`));
        }
        reportedDuplicates = true;
      }
      continue;
    }
    const firstLine =
      problem.code === 'MULTIPLE_DOCS'
        ? 'a policy file holds exactly one YAML document; remove the second "---" and what follows'
        : (problem.message.split('\n')[0]?.trim() ?? problem.message);
    errors.push(at(problem.pos[0], '', `YAML ${problem.name === 'YAMLWarning' ? 'problem' : 'syntax error'}: ${firstLine}`));
  }
  return errors;
}

interface DuplicateKey {
  readonly key: string;
  readonly path: string;
  readonly offset: number;
  readonly firstOffset: number;
}

/** Finds every repeated key in every mapping of the document, with the offset of its first occurrence. */
function duplicateKeys(doc: Document.Parsed): DuplicateKey[] {
  const found: DuplicateKey[] = [];
  const visit = (node: unknown, path: PathSegment[]): void => {
    if (isMap(node)) {
      const seen = new Map<string, number>();
      for (const pair of node.items) {
        const key = keyText(pair.key);
        const offset = nodeOffset(pair.key) ?? nodeOffset(node) ?? 0;
        const firstOffset = seen.get(key);
        if (firstOffset === undefined) seen.set(key, offset);
        else found.push({ key, path: formatPath([...path, key]), offset, firstOffset });
        visit(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => visit(item, [...path, index]));
    }
  };
  visit(doc.contents, []);
  return found;
}

/** Walks the YAML tree along a schema path and reports where it leads (or where it stops). */
function locate(doc: Document.Parsed, path: readonly PathSegment[]): Located {
  let node: unknown = doc.contents;
  const start = nodeOffset(node) ?? 0;
  let keyOffset = start;
  let valueOffset = start;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((item) => keyText(item.key) === String(segment));
      if (pair === undefined) return { found: false, valueOffset: keyOffset, keyOffset };
      keyOffset = nodeOffset(pair.key) ?? keyOffset;
      node = pair.value;
      valueOffset = nodeOffset(node) ?? keyOffset;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item: unknown = node.items[segment];
      if (item === undefined) return { found: false, valueOffset: keyOffset, keyOffset };
      node = item;
      valueOffset = nodeOffset(node) ?? valueOffset;
    } else {
      return { found: false, valueOffset: keyOffset, keyOffset };
    }
  }
  return { found: true, valueOffset, keyOffset };
}

function nodeOffset(node: unknown): number | undefined {
  if (node !== null && typeof node === 'object' && 'range' in node) {
    const range: unknown = node.range;
    if (Array.isArray(range) && typeof range[0] === 'number') return range[0];
  }
  return undefined;
}

function keyText(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function hasPath(data: unknown, path: readonly PathSegment[]): boolean {
  let current = data;
  if (path.length === 0) return current !== null && current !== undefined;
  for (const segment of path) {
    if (Array.isArray(current) && typeof segment === 'number') {
      if (segment >= current.length) return false;
      current = current[segment];
    } else if (isRecord(current) && Object.hasOwn(current, segment)) {
      current = current[String(segment)];
    } else {
      return false;
    }
  }
  return true;
}

function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let current = data;
  for (const segment of path) {
    if (Array.isArray(current) && typeof segment === 'number') current = current[segment];
    else if (isRecord(current)) current = current[String(segment)];
    else return undefined;
  }
  return current;
}

/** The part of the policy schema that validates the value at a path, if the path leads anywhere. */
function schemaAt(path: readonly PathSegment[]): unknown {
  let schema: unknown = policySchema;
  for (const segment of path) {
    if (schema instanceof z.ZodObject && typeof segment === 'string') {
      const shape: Record<string, unknown> = schema.shape;
      schema = shape[segment];
    } else if (schema instanceof z.ZodArray) {
      schema = schema.element;
    } else {
      return undefined;
    }
  }
  return schema;
}

/** The keys the schema accepts at a path, for "did you mean" hints on unknown keys. */
function knownKeysAt(path: readonly PathSegment[]): string[] {
  const schema = schemaAt(path);
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  const suggestion = closest(key, known);
  if (suggestion !== null) return `unknown key '${key}'; did you mean '${suggestion}'?`;
  if (known.length > 0) return `unknown key '${key}'; expected one of: ${known.join(', ')}`;
  return `unknown key '${key}'`;
}

/** The known key nearest to a typo, if any is close enough to be a plausible intent. */
function closest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(best.length / 3)) ? best : null;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** Describes a YAML value the way an operator wrote it. */
function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)})`;
  if (typeof value === 'number') return Number.isInteger(value) ? `the number ${value}` : `the fraction ${value}`;
  if (typeof value === 'boolean') return `${value}`;
  if (Array.isArray(value)) return 'a list';
  return 'a mapping';
}

const EXPECTED: Readonly<Record<string, string>> = {
  int: 'an integer',
  number: 'a number',
  string: 'text',
  boolean: 'true or false',
  object: 'a mapping of keys',
  array: 'a list',
};

function plural(count: number | bigint, word: string): string {
  return `${count} ${word}${count === 1 || count === 1n ? '' : 's'}`;
}

/** An operator-facing message for one zod issue; the schema's own wording wins when it has one. */
function issueMessage(issue: z.core.$ZodIssue, value: unknown, expectsInteger: boolean): string {
  const custom = issue.message !== DEFAULT_MESSAGE ? issue.message : null;
  switch (issue.code) {
    case 'invalid_type': {
      const expected = expectsInteger ? EXPECTED['int'] : (EXPECTED[issue.expected] ?? issue.expected);
      const quoted = typeof value === 'string' && (/^-?\d+(\.\d+)?$/.test(value.trim()) || /^(true|false)$/i.test(value.trim()));
      const hint = quoted ? '; write it without quotes' : '';
      return custom ?? `expected ${expected}, got ${describeValue(value)}${hint}`;
    }
    case 'too_small':
    case 'too_big': {
      const got = sizeOf(issue.origin, value);
      const suffix = got === null ? '' : ` (got ${got})`;
      return `${custom ?? boundMessage(issue)}${suffix}`;
    }
    case 'invalid_value': {
      if (custom !== null) return `${custom} (got ${describeValue(value)})`;
      const allowed = issue.values.map((allowedValue) => String(allowedValue));
      if (allowed.length === 1) return `must be ${allowed[0] ?? ''}, got ${describeValue(value)}`;
      return `${describeValue(value)} is not allowed here; expected one of: ${allowed.join(', ')}`;
    }
    case 'invalid_union':
      return custom ?? `${describeValue(value)} is not an accepted value here`;
    default:
      return custom ?? `${describeValue(value)} is not valid here`;
  }
}

function sizeOf(origin: string, value: unknown): string | null {
  if (typeof value === 'number') return String(value);
  if (origin === 'array' && Array.isArray(value)) return plural(value.length, 'item');
  if (origin === 'string' && typeof value === 'string') return plural([...value].length, 'character');
  return null;
}

function boundMessage(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string {
  const small = issue.code === 'too_small';
  const bound = small ? issue.minimum : issue.maximum;
  const inclusive = issue.inclusive !== false;
  const relation = small ? (inclusive ? 'at least' : 'more than') : inclusive ? 'at most' : 'less than';
  switch (issue.origin) {
    case 'array':
    case 'set':
      return `must list ${relation} ${plural(bound, 'item')}`;
    case 'string':
      return `must be ${relation} ${plural(bound, 'character')} long`;
    default:
      return `must be ${relation} ${String(bound)}`;
  }
}

function dedupe(errors: readonly PolicyError[]): PolicyError[] {
  const seen = new Set<string>();
  return errors.filter((error) => {
    const key = formatPolicyError(error);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function sortErrors(errors: PolicyError[]): PolicyError[] {
  return errors.sort((a, b) => a.line - b.line || a.column - b.column);
}
