import { describe, expect, it } from 'vitest';
import { isDomainError } from '../../src/core/errors.ts';
import { emailCodeMethod } from '../../src/core/methods/email-code/email-code.ts';
import type { ChallengeAnswer, MethodContext } from '../../src/core/methods/method.ts';
import { methodContract, type Setup } from './method.contract.ts';
import { enrolled, testContext, testPolicy } from './fixtures.ts';

/** The code in a real challenge's message. */
export function sentCode(setup: Pick<Setup, 'real'>): string {
  const match = /: (\d+)$/m.exec(setup.real.message?.text ?? '');
  if (!match?.[1]) throw new Error('no code in the message');
  return match[1];
}

const bump = (code: string): string => code.slice(0, -1) + String((Number(code.at(-1)) + 1) % 10);

methodContract({
  method: emailCodeMethod,
  context: () => testContext(),
  validEnrollInput: { address: 'alice@example.org' },
  invalidEnrollInputs: [
    null,
    'alice@example.org',
    {},
    { address: 42 },
    { address: '' },
    { address: 'alice' },
    { address: 'alice@localhost' },
    { address: 'alice@corp,attacker@evil.test' },
    { address: 'alice@corp.test;attacker@evil.test' },
    { address: 'alice@corp.test\r\nBcc: attacker@evil.test' },
    { address: 'Alice <alice@corp.test>' },
    { address: 'alice@corp.test\u200b' },
    { address: 'аlice@corp.test' },
    { address: `${'a'.repeat(300)}@corp.test` },
    { address: 'alice@example.org', extra: true },
  ],
  correctAnswer: (setup) => ({ code: sentCode(setup) }),
  wrongAnswers: (setup) => [{ code: bump(sentCode(setup)) }, { code: '00000000' === sentCode(setup) ? '11111111' : '00000000' }],
});

describe('email_code specifics', () => {
  it('stores the address with a canonical domain, fingerprints the canonical form, masks the label', async () => {
    const draft = await emailCodeMethod.enroll({ address: '  Alice.Smith@Example.ORG ' }, testContext());
    expect(draft.secret).toEqual({ address: 'Alice.Smith@example.org' });
    expect(draft.channelAddress).toBe('alice.smith@example.org');
    expect(draft.label).toBe('A•••h@example.org');
    expect(draft.status).toBe('pending');
    expect(draft.shownOnce).toBeNull();
    expect(draft.singleUse).toEqual([]);
  });

  it('canonicalises a fullwidth address to the same fingerprint as the ASCII one (INP-3)', async () => {
    const draft = await emailCodeMethod.enroll({ address: 'ｍｉｋｅ@ＣＯＲＰ.test' }, testContext());
    expect(draft.channelAddress).toBe('mike@corp.test');
    expect(draft.secret).toEqual({ address: 'mike@corp.test' });
  });

  it('names the field in its error', async () => {
    const error: unknown = await emailCodeMethod.enroll({ address: 'nope' }, testContext()).catch((caught: unknown) => caught);
    expect(isDomainError(error) && error.detail).toMatch(/^address: /);
  });

  it('sends the code to the enrolled address with its lifetime, a warning, and no display name', async () => {
    const context: MethodContext = { ...testContext(), displayName: 'Click http://evil.test now' };
    const draft = await emailCodeMethod.enroll({ address: 'alice@example.org' }, context);
    const start = await emailCodeMethod.beginChallenge(enrolled(draft), context, 'seed');
    const message = start.message;
    expect(message).not.toBeNull();
    if (message === null) return;
    expect(message.channel).toBe('email');
    expect(message.to).toBe('alice@example.org');
    expect(message.purpose).toBe('challenge_code');
    expect(message.subject).toContain('Example Corp');
    expect(message.subject).not.toMatch(/\d{4}/);
    const code = sentCode({ real: start });
    expect(code).toMatch(/^\d{8}$/);
    expect(message.text).toContain('10 minutes');
    expect(message.text).toMatch(/did not ask for this/);
    expect(message.text).toMatch(/helpdesk/);
    expect(message.text).not.toContain('evil');
    expect(start.secretHash).toBe(context.services.secrets.mac('challenge', code));
    expect(start.ttlSeconds).toBe(600);
    expect(start.prompt).toEqual({ methodId: 'email_code', answerKind: 'numeric_code', codeLength: 8, questions: [] });
  });

  it('words the message by purpose', async () => {
    const texts = new Map<string, string>();
    for (const purpose of ['reset', 'unlock', 'enrollment', 'sign_in'] as const) {
      const context = testContext({ purpose });
      const draft = await emailCodeMethod.enroll({ address: 'alice@example.org' }, context);
      const start = await emailCodeMethod.beginChallenge(enrolled(draft), context, 'seed');
      texts.set(purpose, (start.message?.text ?? '').replace(/\d{8}/, ''));
      expect(start.message?.purpose).toBe(purpose === 'enrollment' ? 'enrollment_code' : 'challenge_code');
    }
    expect(new Set(texts.values()).size).toBe(4);
    expect(texts.get('reset')).toMatch(/reset the password/);
    expect(texts.get('unlock')).toMatch(/unlock/);
  });

  it('keeps a CR/LF in the organisation name out of the subject', async () => {
    const context = testContext({ policy: testPolicy({ organisationName: 'Evil\r\nBcc: attacker@evil.test' }) });
    const draft = await emailCodeMethod.enroll({ address: 'alice@example.org' }, context);
    const start = await emailCodeMethod.beginChallenge(enrolled(draft), context, 'seed');
    expect(start.message?.subject).not.toMatch(/[\r\n]/);
  });

  it('accepts the code typed with spaces, and only with its enrollment', async () => {
    const context = testContext();
    const draft = await emailCodeMethod.enroll({ address: 'alice@example.org' }, context);
    const enrollment = enrolled(draft);
    const start = await emailCodeMethod.beginChallenge(enrollment, context, 'seed');
    const code = sentCode({ real: start });
    const spaced: ChallengeAnswer = { code: ` ${code.slice(0, 4)} ${code.slice(4)} ` };
    expect(await emailCodeMethod.verify(spaced, start.secretHash, enrollment, context)).toEqual({ kind: 'match', singleUse: null });
    expect(await emailCodeMethod.verify({ code }, null, enrollment, context)).toEqual({ kind: 'mismatch' });
    expect(await emailCodeMethod.verify({ code: code.slice(0, 6) }, start.secretHash, enrollment, context)).toEqual({ kind: 'mismatch' });
  });

  it('gives every decoy a fresh unknowable hash', async () => {
    const context = testContext();
    const a = await emailCodeMethod.beginChallenge(null, context, 'seed');
    const b = await emailCodeMethod.beginChallenge(null, context, 'seed');
    expect(a.secretHash).not.toBe(b.secretHash);
  });
});
