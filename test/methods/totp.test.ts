import { execFileSync } from 'node:child_process';
import { HOTP, Secret, TOTP } from 'otpauth';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EnrolledSecret, EnrollmentDraft, MethodContext } from '../../src/core/methods/method.ts';
import { TOTP_SEED_BYTES, totpMethod } from '../../src/core/methods/totp/totp.ts';
import { methodContract } from './method.contract.ts';
import { enrolled, testContext, testPolicy, testServices } from './fixtures.ts';

/*
 * TOTP is cross-checked against an independent implementation, oathtool (OATH Toolkit), in both
 * directions: oathtool's codes must verify here, and codes generated here must validate in oathtool.
 */

const T = new Date('2026-01-01T00:00:30Z');
const STEP_MS = 30_000;

function oathtool(args: readonly string[]): { status: number; stdout: string } {
  try {
    return { status: 0, stdout: execFileSync('oathtool', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim() };
  } catch (error) {
    const failed = error as { status?: number; stdout?: string };
    return { status: failed.status ?? -1, stdout: (failed.stdout ?? '').trim() };
  }
}

/** oathtool's TOTP code for `seed` at `when`. */
function oathCode(seed: string, when: Date, digits = 6): string {
  const result = oathtool(['--totp', '-d', String(digits), '-b', seed, '--now', `@${Math.floor(when.getTime() / 1000)}`]);
  if (result.status !== 0) throw new Error(`oathtool failed with status ${result.status}`);
  return result.stdout;
}

async function enrollTotp(context: MethodContext): Promise<{ draft: EnrollmentDraft; enrollment: EnrolledSecret; seed: string }> {
  const draft = await totpMethod.enroll({}, context);
  const seed = draft.shownOnce?.['secret'];
  if (typeof seed !== 'string') throw new Error('no seed shown');
  return { draft, enrollment: enrolled(draft), seed };
}

const at = (now: Date, overrides: Parameters<typeof testPolicy>[0] = {}, services = testServices()): MethodContext =>
  testContext({ now, policy: testPolicy(overrides), services });

beforeAll(() => {
  const probe = oathtool(['--version']);
  if (probe.status !== 0) throw new Error('oathtool is required for the TOTP cross-check: apt-get install -y oathtool');
});

methodContract({
  method: totpMethod,
  context: () => testContext({ now: T }),
  validEnrollInput: {},
  invalidEnrollInputs: [{ label: '' }, { label: 42 }, { label: 'x'.repeat(41) }, { label: 'phone\u202e' }, { label: '<script>' }, { seed: 'JBSWY3DPEHPK3PXP' }, 'app'],
  correctAnswer: ({ draft }) => ({ code: oathCode(String(draft.shownOnce?.['secret']), T) }),
  wrongAnswers: ({ draft }) => {
    const seed = String(draft.shownOnce?.['secret']);
    const window = new Set([-1, 0, 1].map((delta) => oathCode(seed, new Date(T.getTime() + delta * STEP_MS))));
    const candidates = ['000000', '999999', '123456', oathCode(seed, new Date(T.getTime() + 5 * STEP_MS))];
    return candidates.filter((code) => !window.has(code)).map((code) => ({ code }));
  },
});

describe('totp enrollment', () => {
  it('generates a 160-bit base32 seed and an otpauth URI carrying issuer, digits and period', async () => {
    const context = testContext({ now: T });
    const { draft, seed } = await enrollTotp(context);
    expect(Secret.fromBase32(seed).bytes.length).toBe(TOTP_SEED_BYTES);
    expect(seed).toMatch(/^[A-Z2-7]{32}$/);
    expect(draft).toMatchObject({ status: 'pending', label: 'Authenticator app', channelAddress: null, singleUse: [] });
    expect(draft.secret).toEqual({ seed, digits: 6, period: 30 });
    const uri = new URL(String(draft.shownOnce?.['otpauthUri']));
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe('/Example Corp:Alice Example');
    expect(Object.fromEntries(uri.searchParams)).toEqual({ issuer: 'Example Corp', secret: seed, algorithm: 'SHA1', digits: '6', period: '30' });
  });

  it('uses a given label, and two enrollments never share a seed', async () => {
    const context = testContext({ now: T });
    const draft = await totpMethod.enroll({ label: 'Work phone' }, context);
    expect(draft.label).toBe('Work phone');
    expect(String(draft.shownOnce?.['otpauthUri'])).toContain('Work%20phone');
    const other = await enrollTotp(context);
    expect(other.seed).not.toBe(draft.shownOnce?.['secret']);
  });
});

describe('totp verification, cross-checked with oathtool', () => {
  it('matches oathtool at the documented fixed time (oathtool --now "2026-01-01 00:00:30 UTC")', async () => {
    const { seed } = await enrollTotp(testContext({ now: T }));
    const fromOath = oathtool(['--totp', '-b', seed, '--now', '2026-01-01 00:00:30 UTC']);
    expect(fromOath.status).toBe(0);
    const ours = HOTP.generate({ secret: Secret.fromBase32(seed), algorithm: 'SHA1', digits: 6, counter: Math.floor(T.getTime() / STEP_MS) });
    expect(ours).toBe(fromOath.stdout);
    expect(TOTP.generate({ secret: Secret.fromBase32(seed), timestamp: T.getTime() })).toBe(fromOath.stdout);
  });

  it('agrees with oathtool both ways for many seeds and times', async () => {
    for (let i = 0; i < 8; i += 1) {
      const when = new Date(T.getTime() + i * 7_777_777_000 + i * 13_000);
      const context = at(when);
      const { enrollment, seed } = await enrollTotp(context);
      // oathtool generates, we verify.
      const code = oathCode(seed, when);
      expect((await totpMethod.verify({ code }, null, enrollment, context)).kind).toBe('match');
      // We generate, oathtool validates (exit 0 and offset 0 within a zero window).
      const ours = TOTP.generate({ secret: Secret.fromBase32(seed), timestamp: when.getTime() });
      const check = oathtool(['--totp', '-b', seed, '--now', `@${Math.floor(when.getTime() / 1000)}`, '-w', '0', ours]);
      expect(check).toEqual({ status: 0, stdout: '0' });
    }
  });

  it('accepts steps t-1, t, t+1 and refuses t±2 and t±3 with driftSteps 1 (TOK-14)', async () => {
    const context = at(T, { methods: { totp: { driftSteps: 1 } } });
    const { enrollment, seed } = await enrollTotp(context);
    for (const delta of [-3, -2, -1, 0, 1, 2, 3]) {
      const code = oathCode(seed, new Date(T.getTime() + delta * STEP_MS));
      const outcome = await totpMethod.verify({ code }, null, enrollment, context);
      expect(outcome.kind, `step ${delta}`).toBe(Math.abs(delta) <= 1 ? 'match' : 'mismatch');
    }
  });

  it('accepts only the current step with driftSteps 0', async () => {
    const context = at(T, { methods: { totp: { driftSteps: 0 } } });
    const { enrollment, seed } = await enrollTotp(context);
    for (const delta of [-1, 0, 1]) {
      const code = oathCode(seed, new Date(T.getTime() + delta * STEP_MS));
      expect((await totpMethod.verify({ code }, null, enrollment, context)).kind, `step ${delta}`).toBe(delta === 0 ? 'match' : 'mismatch');
    }
  });

  it('claims mac(totp_step, enrollmentId:step): different per step, equal for the same step, scoped to the enrollment', async () => {
    const services = testServices();
    const context = at(T, {}, services);
    const { enrollment, seed } = await enrollTotp(context);
    const current = Math.floor(T.getTime() / STEP_MS);
    const hashes: string[] = [];
    for (const delta of [-1, 0, 1]) {
      const outcome = await totpMethod.verify({ code: oathCode(seed, new Date(T.getTime() + delta * STEP_MS)) }, null, enrollment, context);
      if (outcome.kind !== 'match' || outcome.singleUse === null) throw new Error(`step ${delta} did not match with a claim`);
      expect(outcome.singleUse.purpose).toBe('totp_step');
      expect(outcome.singleUse.mode).toBe('claim');
      expect(outcome.singleUse.keyHash).toBe(services.secrets.mac('totp_step', `${enrollment.id}:${current + delta}`));
      hashes.push(outcome.singleUse.keyHash);
    }
    expect(new Set(hashes).size).toBe(3);
    // The same code again, later within its window, claims the same key: the engine refuses the replay.
    const replay = await totpMethod.verify({ code: oathCode(seed, T) }, null, enrollment, at(new Date(T.getTime() + STEP_MS), {}, services));
    expect(replay.kind === 'match' && replay.singleUse?.keyHash).toBe(hashes[1]);
    // The same seed under another enrollment id claims a different key.
    const twin: EnrolledSecret = { ...enrollment, id: `${enrollment.id}-twin` as EnrolledSecret['id'] };
    const other = await totpMethod.verify({ code: oathCode(seed, T) }, null, twin, context);
    expect(other.kind === 'match' && other.singleUse?.keyHash).not.toBe(hashes[1]);
  });

  it('supports 8 digits (oathtool -d 8) and refuses a 6-digit truncation', async () => {
    const context = at(T, { methods: { totp: { digits: 8 } } });
    const { draft, enrollment, seed } = await enrollTotp(context);
    expect(new URL(String(draft.shownOnce?.['otpauthUri'])).searchParams.get('digits')).toBe('8');
    const code = oathCode(seed, T, 8);
    expect(code).toMatch(/^\d{8}$/);
    expect((await totpMethod.verify({ code }, null, enrollment, context)).kind).toBe('match');
    expect((await totpMethod.verify({ code: code.slice(2) }, null, enrollment, context)).kind).toBe('mismatch');
    expect((await totpMethod.beginChallenge(enrollment, context, 's')).prompt.codeLength).toBe(8);
  });

  it('keeps verifying an app set up before the policy changed its digits', async () => {
    const services = testServices();
    const { enrollment, seed } = await enrollTotp(at(T, { methods: { totp: { digits: 6 } } }, services));
    const later = at(T, { methods: { totp: { digits: 8 } } }, services);
    expect((await totpMethod.verify({ code: oathCode(seed, T, 6) }, null, enrollment, later)).kind).toBe('match');
  });

  it('wants exactly the digits in ASCII (spaces between groups allowed)', async () => {
    const context = at(T);
    const { enrollment, seed } = await enrollTotp(context);
    const code = oathCode(seed, T);
    const fullwidth = code.replace(/\d/g, (digit) => String.fromCharCode(0xff10 + Number(digit)));
    expect((await totpMethod.verify({ code: `${code.slice(0, 3)} ${code.slice(3)}` }, null, enrollment, context)).kind).toBe('match');
    for (const bad of [code.slice(1), `${code}0`, fullwidth, `${code.slice(0, 5)}x`, `+${code.slice(1)}`]) {
      expect((await totpMethod.verify({ code: bad }, null, enrollment, context)).kind, bad).toBe('mismatch');
    }
  });

  it('starts a challenge with nothing stored or sent, identical for real and decoy', async () => {
    const context = at(T);
    const { enrollment } = await enrollTotp(context);
    const real = await totpMethod.beginChallenge(enrollment, context, 'seed');
    expect(real).toEqual({ secretHash: null, ttlSeconds: 300, message: null, prompt: { methodId: 'totp', answerKind: 'numeric_code', codeLength: 6, questions: [] } });
    expect(await totpMethod.beginChallenge(null, context, 'seed')).toEqual(real);
  });
});
