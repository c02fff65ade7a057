import { describe, expect, it } from 'vitest';
import { isDomainError } from '../../src/core/errors.ts';
import type { MethodContext } from '../../src/core/methods/method.ts';
import { smsCodeMethod } from '../../src/core/methods/sms-code/sms-code.ts';
import { methodContract, type Setup } from './method.contract.ts';
import { enrolled, testContext } from './fixtures.ts';

function sentCode(setup: Pick<Setup, 'real'>): string {
  const match = /: (\d+) is your/.exec(setup.real.message?.text ?? '');
  if (!match?.[1]) throw new Error('no code in the SMS');
  return match[1];
}

const bump = (code: string): string => code.slice(0, -1) + String((Number(code.at(-1)) + 1) % 10);

methodContract({
  method: smsCodeMethod,
  context: () => testContext(),
  validEnrollInput: { phone: '+447700900123' },
  invalidEnrollInputs: [
    null,
    {},
    { phone: 447700900123 },
    { phone: '' },
    { phone: '07700 900123' },
    { phone: '+44 7700 9001' },
    { phone: '+44 7700 900123 ext 1' },
    { phone: '+0447700900123' },
    { phone: '+12345' },
    { phone: '+1234567890123456' },
    { phone: '+447700900123\n' + '+15550100' },
    { phone: '+447700900123', extra: 1 },
  ],
  correctAnswer: (setup) => ({ code: sentCode(setup) }),
  wrongAnswers: (setup) => [{ code: bump(sentCode(setup)) }],
});

describe('sms_code specifics', () => {
  it('stores the E.164 number and masks the label', async () => {
    const draft = await smsCodeMethod.enroll({ phone: '+447700900123' }, testContext());
    expect(draft).toMatchObject({ secret: { phone: '+447700900123' }, label: '+44•••••••23', channelAddress: '+447700900123', status: 'pending' });
  });

  it('stores a number typed with spaces, dashes or in national form (with a default region) in E.164', async () => {
    for (const [phone, context] of [
      ['+44 7700 900123', testContext()],
      ['+44-7700-900123', testContext()],
      ['07700 900123', { ...testContext(), defaultPhoneRegion: 'GB' }],
    ] as const) {
      const draft = await smsCodeMethod.enroll({ phone }, context);
      expect(draft).toMatchObject({ secret: { phone: '+447700900123' }, channelAddress: '+447700900123', label: '+44•••••••23' });
    }
  });

  it('explains the E.164 format when it refuses a number', async () => {
    const error: unknown = await smsCodeMethod.enroll({ phone: '07700 900123' }, testContext()).catch((caught: unknown) => caught);
    expect(isDomainError(error)).toBe(true);
    if (isDomainError(error)) {
      expect(error.detail).toMatch(/^phone: /);
      expect(error.detail).toMatch(/E\.164/);
      expect(error.detail).toContain('+447700900123');
    }
  });

  it('sends a short SMS to the enrolled number with the code and no display name', async () => {
    const context: MethodContext = { ...testContext(), displayName: 'Visit evil.test' };
    const draft = await smsCodeMethod.enroll({ phone: '+447700900123' }, context);
    const start = await smsCodeMethod.beginChallenge(enrolled(draft), context, 'seed');
    expect(start.message).toMatchObject({ channel: 'sms', to: '+447700900123', purpose: 'challenge_code' });
    const text = start.message?.text ?? '';
    expect(sentCode({ real: start })).toMatch(/^\d{6}$/);
    expect(text.length).toBeLessThanOrEqual(160);
    expect(text).not.toContain('evil');
    expect(text).toContain('5 minutes');
    expect(start.ttlSeconds).toBe(300);
    expect(start.prompt.codeLength).toBe(6);
  });
});
