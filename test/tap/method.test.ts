import { describe, expect, it } from 'vitest';
import { getMethod } from '../../src/core/methods/registry.ts';
import { formatPass, generatePass, normalisePass, PASS_LENGTH, splitPass, temporaryAccessPassMethod } from '../../src/core/methods/temporary-access-pass/temporary-access-pass.ts';
import { METHOD_GATE_FACTS } from '../../src/core/policy/gates.ts';
import { testContext } from '../methods/fixtures.ts';

describe('the temporary_access_pass method', () => {
  it('is registered with the gate facts policy validation uses', () => {
    expect(getMethod('temporary_access_pass')).toBe(temporaryAccessPassMethod);
    expect(METHOD_GATE_FACTS.temporary_access_pass).toEqual({ methodId: 'temporary_access_pass', strength: temporaryAccessPassMethod.strength, channel: temporaryAccessPassMethod.channel, countsAsGate: true });
  });

  it('cannot be registered by a person: passes are issued', async () => {
    await expect(temporaryAccessPassMethod.enroll({}, testContext())).rejects.toMatchObject({ code: 'method.not_allowed' });
  });

  it('generates 16 Crockford base32 characters (80 bits), shown in groups of four', () => {
    const context = testContext();
    const passes = new Set(Array.from({ length: 200 }, () => generatePass(context.services.random)));
    expect(passes.size).toBe(200);
    for (const pass of passes) {
      expect(pass).toMatch(/^[0-9A-HJKMNP-TV-Z]{16}$/);
      expect(formatPass(pass)).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
    }
    expect(PASS_LENGTH * Math.log2(32)).toBe(80);
  });

  it('reads a pass however it is typed, and a half or a swapped pair as nothing', () => {
    const pass = 'ABCDEFGH0123JKMN';
    expect(normalisePass('abcd-efgh 0123-jkmn')).toBe(pass);
    expect(normalisePass('ABCD-EFGH-O123-JKMN')).toBe(pass);
    const [first, second] = splitPass(pass);
    expect(normalisePass(first)).toBeNull();
    expect(normalisePass(second)).toBeNull();
    expect(normalisePass(`${second}${first}`)).not.toBe(pass);
    expect(normalisePass(`${first}-${second}`)).toBe(pass);
    expect(normalisePass('ABCD-EFGH-0123-JKMU')).toBeNull();
  });

  it('verifies a well-formed pass to a use_pass claim on its keyed hash, and never for a decoy', async () => {
    const context = testContext();
    const enrollment = { id: 'e1' as never, secret: {} };
    const outcome = await temporaryAccessPassMethod.verify({ code: 'abcd-efgh-0123-jkmn' }, null, enrollment, context);
    expect(outcome).toEqual({ kind: 'match', singleUse: { purpose: 'temporary_access_pass', mode: 'use_pass', keyHash: context.services.secrets.mac('temporary_access_pass', 'ABCDEFGH0123JKMN') } });
    expect(await temporaryAccessPassMethod.verify({ code: 'ABCD-EFGH-0123-JKMN' }, null, null, context)).toEqual({ kind: 'mismatch' });
    expect(await temporaryAccessPassMethod.verify({ code: 'ABCD-EFGH' }, null, enrollment, context)).toEqual({ kind: 'mismatch' });
    expect(await temporaryAccessPassMethod.verify({ answers: ['x'] }, null, enrollment, context)).toEqual({ kind: 'mismatch' });
  });

  it('begins a challenge that sends nothing and looks the same for a decoy', async () => {
    const context = testContext();
    const real = await temporaryAccessPassMethod.beginChallenge({ id: 'e1' as never, secret: {} }, context, 'seed');
    const decoy = await temporaryAccessPassMethod.beginChallenge(null, context, 'seed');
    expect(real).toEqual(decoy);
    expect(real.message).toBeNull();
  });
});
