import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_FILE_URL } from '../../src/core/policy/default-policy.ts';
import { formatPolicyError, parsePolicy } from '../../src/core/policy/load.ts';
import type { PolicyError } from '../../src/core/policy/load.ts';

const DEFAULT_TEXT = readFileSync(DEFAULT_POLICY_FILE_URL, 'utf8');
const FILE = 'policy.yaml';

/** Replaces exactly one occurrence of `from` (fails loudly if the fixture text drifted). */
function edit(text: string, from: string, to: string): string {
  const first = text.indexOf(from);
  expect(first, `fixture text not found: ${from}`).toBeGreaterThanOrEqual(0);
  expect(text.indexOf(from, first + 1), `fixture text not unique: ${from}`).toBe(-1);
  return text.slice(0, first) + to + text.slice(first + from.length);
}

/** 1-based line and column where `needle` starts (the `occurrence`-th time, counting from 1). */
function position(text: string, needle: string, occurrence = 1): { line: number; column: number } {
  let offset = -1;
  for (let seen = 0; seen < occurrence; seen += 1) {
    offset = text.indexOf(needle, offset + 1);
    expect(offset, `needle not found: ${needle}`).toBeGreaterThanOrEqual(0);
  }
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: (before[before.length - 1]?.length ?? 0) + 1 };
}

function errorsOf(text: string): PolicyError[] {
  const result = parsePolicy(text, FILE);
  if (result.ok) throw new Error('expected the policy to be refused');
  return result.errors;
}

function onlyError(text: string): PolicyError {
  const errors = errorsOf(text);
  expect(errors.map(formatPolicyError)).toHaveLength(1);
  const [error] = errors;
  if (error === undefined) throw new Error('no error');
  return error;
}

describe('the shipped default policy', () => {
  it('parses without errors', () => {
    const result = parsePolicy(DEFAULT_TEXT, 'policy/default.yaml');
    expect(result.ok ? [] : result.errors.map(formatPolicyError)).toEqual([]);
  });

  it('carries the secure defaults the documentation promises', () => {
    const result = parsePolicy(DEFAULT_TEXT, 'policy/default.yaml');
    if (!result.ok) throw new Error('default policy refused');
    const { policy } = result;
    expect(policy.tiers.standard).toMatchObject({
      selfService: true,
      allowedMethods: ['webauthn', 'totp', 'recovery_code', 'email_code', 'sms_code'],
      gatesRequired: 2,
      requireOneOf: ['phishing_resistant', 'possession'],
      minEnrolledMethods: 2,
      maxAttemptsPerChallenge: 5,
      flowTtlSeconds: 900,
      grantTtlSeconds: 300,
      failureThrottle: { points: 10, windowSeconds: 900 },
      failureCeiling: { points: 50, windowSeconds: 86_400 },
      password: { minLength: 15, maxLength: 256, blocklist: true, contextWords: true, breachedCheck: false },
    });
    expect(policy.tiers.privileged.allowedMethods).toEqual(['totp', 'recovery_code']);
    expect(policy.tiers.privileged.maxAttemptsPerChallenge).toBe(3);
    expect(policy.tiers.break_glass.selfService).toBe(false);
    expect(policy.methods.security_questions.enabled).toBe(false);
    expect(policy.methods.email_code).toEqual({ codeLength: 8, codeTtlSeconds: 600 });
    expect(policy.methods.sms_code).toEqual({ codeLength: 6, codeTtlSeconds: 300 });
    expect(policy.tierGroups).toEqual({ privileged: ['admins', 'Domain Admins'], break_glass: ['break-glass'] });
  });

  it('is located by a URL relative to the package root, so callers can read it without the core doing I/O', () => {
    expect(DEFAULT_POLICY_FILE_URL.protocol).toBe('file:');
    expect(DEFAULT_POLICY_FILE_URL.pathname.endsWith('/policy/default.yaml')).toBe(true);
  });
});

describe('an invalid policy is refused with FILE:LINE:COL errors', () => {
  it('reports a value of the wrong type at the value, saying what was expected and what was found', () => {
    const text = edit(DEFAULT_TEXT, 'lockoutThreshold: 5', 'lockoutThreshold: "5"');
    const error = onlyError(text);
    const at = position(text, '"5"');
    expect(error).toMatchObject({ file: FILE, ...at, path: 'signIn.lockoutThreshold' });
    expect(error.message).toContain('expected an integer, got a string');
  });

  it('reports a gate count below the floor with the schema reason and the value found', () => {
    const text = edit(DEFAULT_TEXT, '    gatesRequired: 2\n    # At least one gate', '    gatesRequired: 1\n    # At least one gate');
    const { line, column } = position(text, '1\n    # At least one gate');
    expect(errorsOf(text).map(formatPolicyError)).toEqual([
      `${FILE}:${line}:${column} tiers.standard.gatesRequired: a reset or unlock needs at least two gates (got 1)`,
    ]);
  });

  it('reports a password minimum below 8 at the value (PWD-1)', () => {
    const text = edit(DEFAULT_TEXT, '      minLength: 15\n      # Long', '      minLength: 6\n      # Long');
    const error = onlyError(text);
    expect(error).toMatchObject({ ...position(text, '6\n      # Long'), path: 'tiers.standard.password.minLength' });
    expect(error.message).toContain('below 8');
    expect(error.message).toContain('(got 6)');
  });

  it('reports an unknown key at the key, naming it and suggesting the intended one', () => {
    const text = edit(DEFAULT_TEXT, '    maxAttemptsPerChallenge: 3', '    maxAttemptsPerChallenge: 3\n    gatesRequird: 3');
    const error = onlyError(text);
    expect(error).toMatchObject({ ...position(text, 'gatesRequird'), path: 'tiers.privileged.gatesRequird' });
    expect(error.message).toBe("unknown key 'gatesRequird'; did you mean 'gatesRequired'?");
  });

  it('reports an unknown key without a near match by listing the keys allowed there', () => {
    const text = edit(DEFAULT_TEXT, 'signIn:\n', 'signIn:\n  colour: blue\n');
    const error = onlyError(text);
    expect(error.message).toBe("unknown key 'colour'; expected one of: lockoutThreshold, sessionTtlSeconds, stepUpSeconds");
    expect(error).toMatchObject(position(text, 'colour'));
  });

  it('reports a missing key at the closest existing parent key', () => {
    const text = edit(DEFAULT_TEXT, '  stepUpSeconds: 300\n', '');
    const error = onlyError(text);
    expect(error).toMatchObject({ ...position(text, 'signIn:'), path: 'signIn.stepUpSeconds' });
    expect(error.message).toBe("missing required key 'stepUpSeconds'");
  });

  it('reports a misspelt key as both unknown and missing, each on its own line', () => {
    const text = edit(DEFAULT_TEXT, '  sessionTtlSeconds: 900', '  sessionTTLSeconds: 900');
    expect(errorsOf(text).map(formatPolicyError)).toEqual([
      `${FILE}:${position(text, 'signIn:').line}:1 signIn.sessionTtlSeconds: missing required key 'sessionTtlSeconds'`,
      `${FILE}:${position(text, 'sessionTTLSeconds').line}:3 signIn.sessionTTLSeconds: unknown key 'sessionTTLSeconds'; did you mean 'sessionTtlSeconds'?`,
    ]);
  });

  it('refuses security_questions as a gate, pointing at the list item (FAC-6)', () => {
    const text = edit(DEFAULT_TEXT, '      - sms_code\n', '      - sms_code\n      - security_questions\n');
    const error = onlyError(text);
    expect(error).toMatchObject({ ...position(text, 'security_questions\n'), path: 'tiers.standard.allowedMethods[5]' });
    expect(error.message).toContain('can never be a gate');
  });

  it('refuses an unknown method id, listing the known ones', () => {
    const text = edit(DEFAULT_TEXT, '      - sms_code\n', '      - smscode\n');
    const error = onlyError(text);
    expect(error).toMatchObject({ ...position(text, 'smscode'), path: 'tiers.standard.allowedMethods[4]' });
    expect(error.message).toContain('expected one of: email_code, sms_code, totp, recovery_code, security_questions');
  });

  it('refuses SMS codes living 15 minutes and email codes living 25 hours (TOK-3)', () => {
    const sms = edit(DEFAULT_TEXT, '    codeTtlSeconds: 300', '    codeTtlSeconds: 900');
    const text = edit(sms, '    codeTtlSeconds: 600', '    codeTtlSeconds: 90000');
    const errors = errorsOf(text);
    expect(errors.map((error) => [error.path, error.line])).toEqual([
      ['methods.email_code.codeTtlSeconds', position(text, '90000').line],
      ['methods.sms_code.codeTtlSeconds', position(text, '900\n').line],
    ]);
    expect(errors[0]?.message).toContain('at most 24 hours');
    expect(errors[1]?.message).toContain('at most 10 minutes');
  });

  it('refuses email or SMS codes for privileged accounts (FAC-4)', () => {
    const text = edit(DEFAULT_TEXT, '    allowedMethods:\n      - totp\n      - recovery_code\n    gatesRequired', '    allowedMethods:\n      - totp\n      - sms_code\n    gatesRequired');
    const error = onlyError(text);
    expect(error).toMatchObject({ ...position(text, 'sms_code\n', 2), path: 'tiers.privileged.allowedMethods[1]' });
    expect(error.message).toContain('too weak for privileged accounts');
  });

  it('refuses a tier whose requireOneOf no allowed method can meet, so no flow could ever finish', () => {
    const text = edit(DEFAULT_TEXT, '    gatesRequired: 2\n    requireOneOf:\n      - phishing_resistant\n      - possession\n    minEnrolledMethods: 2\n    # Fewer', '    gatesRequired: 2\n    requireOneOf:\n      - phishing_resistant\n    minEnrolledMethods: 2\n    # Fewer');
    const error = onlyError(text);
    expect(error.path).toBe('tiers.privileged.requireOneOf');
    expect(error.message).toContain('no allowed method is of class phishing_resistant');
  });

  it('refuses more required gates than independent channels', () => {
    const text = edit(DEFAULT_TEXT, '    gatesRequired: 2\n    requireOneOf:\n      - phishing_resistant\n      - possession\n    minEnrolledMethods: 2\n    # Fewer', '    gatesRequired: 3\n    requireOneOf:\n      - phishing_resistant\n      - possession\n    minEnrolledMethods: 3\n    # Fewer');
    expect(onlyError(text).message).toBe('3 gates are required but the allowed methods offer only 2 independent channels');
  });

  it('refuses self-service for break-glass accounts', () => {
    const text = edit(DEFAULT_TEXT, 'selfService: false', 'selfService: true');
    const error = onlyError(text);
    expect(error.path).toBe('tiers.break_glass.selfService');
    expect(error.message).toContain('never get self-service');
  });

  it('reports a YAML syntax error at its own line and column', () => {
    const text = edit(DEFAULT_TEXT, '  lockoutThreshold: 5\n', '\tlockoutThreshold: 5\n');
    const [first] = errorsOf(text);
    expect(first).toMatchObject({ ...position(text, '\tlockoutThreshold'), path: '' });
    expect(first?.message).toBe('YAML syntax error: Tabs are not allowed as indentation');
  });

  it('reports an unclosed bracket as a YAML syntax error, not as a schema error', () => {
    const text = edit(DEFAULT_TEXT, '  perIp:\n    points: 60', '  perIp:\n    points: [60');
    const errors = errorsOf(text);
    expect(errors.length).toBeGreaterThan(0);
    for (const error of errors) {
      expect(error.message).toMatch(/^YAML syntax error: /);
      expect(error.line).toBeGreaterThanOrEqual(position(text, '[60').line);
    }
  });

  it('reports a duplicate key at the second occurrence, naming the first line', () => {
    const text = edit(DEFAULT_TEXT, '  lockoutThreshold: 5\n', '  lockoutThreshold: 5\n  lockoutThreshold: 50\n');
    const error = onlyError(text);
    const first = position(text, 'lockoutThreshold: 5\n');
    expect(error).toMatchObject({ ...position(text, 'lockoutThreshold: 50'), path: 'signIn.lockoutThreshold' });
    expect(error.message).toBe(`duplicate key 'lockoutThreshold' (first defined on line ${first.line})`);
  });

  it('refuses a file with two YAML documents', () => {
    expect(onlyError(`${DEFAULT_TEXT}\n---\nversion: 1\n`).message).toContain('exactly one YAML document');
  });

  it('refuses an empty document at its first line', () => {
    expect(formatPolicyError(onlyError(''))).toBe(`${FILE}:1:1 the policy document is empty; expected a mapping of policy keys`);
  });

  it('lists every error in source order', () => {
    const text = edit(edit(DEFAULT_TEXT, 'stepUpSeconds: 300', 'stepUpSeconds: 5'), 'version: 1', 'version: 2');
    const lines = errorsOf(text).map((error) => error.line);
    expect(lines).toHaveLength(2);
    expect(lines).toEqual([...lines].sort((a, b) => a - b));
  });
});

describe('formatPolicyError', () => {
  it('prints FILE:LINE:COL, then the path, then the message', () => {
    expect(formatPolicyError({ file: 'p.yaml', line: 12, column: 5, path: 'tiers.standard.gatesRequired', message: 'too few' })).toBe(
      'p.yaml:12:5 tiers.standard.gatesRequired: too few',
    );
  });

  it('omits the path when the error concerns the whole document', () => {
    expect(formatPolicyError({ file: 'p.yaml', line: 1, column: 1, path: '', message: 'broken' })).toBe('p.yaml:1:1 broken');
  });
});
