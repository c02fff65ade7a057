import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { boundedDiff, lineDiff } from '../../src/core/policy/versions.ts';
import { DEFAULT_POLICY_TEXT } from './fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'latchkey-diff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The hunks GNU diff prints for the same change (its two header lines dropped). */
function gnuDiff(before: string, after: string): string {
  writeFileSync(join(dir, 'a'), before);
  writeFileSync(join(dir, 'b'), after);
  try {
    execFileSync('diff', ['-u', join(dir, 'a'), join(dir, 'b')], { encoding: 'utf8' });
    return '';
  } catch (error) {
    const stdout = (error as { stdout: string }).stdout;
    return stdout.split('\n').slice(2).join('\n');
  }
}

const lines = DEFAULT_POLICY_TEXT.split('\n');
const cases: Record<string, string> = {
  'one value changed': DEFAULT_POLICY_TEXT.replace('gatesRequired: 2', 'gatesRequired: 3'),
  'two changes far apart': DEFAULT_POLICY_TEXT.replace('codeLength: 8', 'codeLength: 9').replace('lockoutThreshold: 5', 'lockoutThreshold: 6'),
  'two changes close together': DEFAULT_POLICY_TEXT.replace('flowTtlSeconds: 900', 'flowTtlSeconds: 600').replace('grantTtlSeconds: 300', 'grantTtlSeconds: 240'),
  'lines inserted at the top': `# edited by the security team\n# second line\n${DEFAULT_POLICY_TEXT}`,
  'lines removed at the end': `${lines.slice(0, -6).join('\n')}\n`,
  'a block deleted in the middle': [...lines.slice(0, 40), ...lines.slice(52)].join('\n'),
};

describe('policy version diffs', () => {
  it.each(Object.entries(cases))('prints the hunks diff -u prints: %s', (_name, after) => {
    const diff = lineDiff(DEFAULT_POLICY_TEXT, after);
    expect(diff.text).toBe(gnuDiff(DEFAULT_POLICY_TEXT, after));
    expect(diff.linesAdded).toBe(diff.text.split('\n').filter((line) => line.startsWith('+')).length);
    expect(diff.linesRemoved).toBe(diff.text.split('\n').filter((line) => line.startsWith('-')).length);
  });

  it('is empty for the same text', () => {
    expect(lineDiff(DEFAULT_POLICY_TEXT, DEFAULT_POLICY_TEXT)).toEqual({ text: '', linesAdded: 0, linesRemoved: 0 });
  });

  it('cuts a diff for the audit log at a line end, and says so', () => {
    const diff = lineDiff('', DEFAULT_POLICY_TEXT).text;
    const cut = boundedDiff(diff, 2_000);
    expect(cut.truncated).toBe(true);
    expect(cut.text.length).toBeLessThanOrEqual(2_000);
    expect(diff.startsWith(`${cut.text}\n`)).toBe(true);
    expect(boundedDiff('+a\n', 2_000)).toEqual({ text: '+a\n', truncated: false });
  });
});
