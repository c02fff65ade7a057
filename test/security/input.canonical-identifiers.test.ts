import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, allMessages, call, createPerson, enrolEmailAndTotp, json, startHarness, type Enrolled, type Harness } from '../support/harness.ts';
import { createAccount } from './checks.support.ts';

/*
 * INP-3: one canonical form (NFKC, locale-independent lower case, no invisible characters, one
 * script) is used at creation and at every lookup. Spellings that fold to a stored identifier find
 * that account and mail only its stored address; look-alikes (Turkish dotted and dotless i,
 * zero-width characters, Cyrillic letters) find nobody; and the JSON API and the sign-in agree.
 */

describe.each(ENGINES)('canonical identifiers on %s', (engine) => {
  let h: Harness;
  let mike: Enrolled;
  let zoe: Enrolled;
  beforeAll(async () => {
    h = await startHarness({ engine });
    mike = await enrolEmailAndTotp(h, await createPerson(h, 'mike'));
    // Stored precomposed (NFC) through canonicalisation, whatever form it was typed in.
    zoe = await enrolEmailAndTotp(h, await createPerson(h, 'zo\u00eb'));
  });
  afterAll(async () => {
    await h.close();
  });

  /** Starts a reset for the identifier, asks for an email code, and returns the recipients of what was queued. */
  async function recipientsFor(identifier: string): Promise<string[]> {
    const before = (await allMessages(h)).length;
    const started = await call(h, 'POST', '/api/recovery/flows', { identifier });
    expect(started.statusCode, JSON.stringify(identifier)).toBe(201);
    const token = json<{ flowToken: string }>(started).flowToken;
    expect((await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token })).statusCode).toBe(200);
    return (await allMessages(h)).slice(before).map((message) => message.to);
  }

  it('INP-3 finds mike for spellings that fold to his identifier, and mails only his stored address', async () => {
    const spellings = ['mike', 'MIKE', 'Mike', 'mike@corp.test', 'MIKE@CORP.TEST', '\uff4d\uff49\uff4b\uff45@corp.test', '\uff2d\uff29\uff2b\uff25', 'mike@\uff43\uff4f\uff52\uff50.test', '  mike@corp.test  ', '\u1d39\u1d35\u1d37\u1d31' /* modifier letters ᴹᴵᴷᴱ: NFKC folds them */];
    for (const spelling of spellings) expect(await recipientsFor(spelling), JSON.stringify(spelling)).toEqual([mike.altEmail]);
    expect(mike.altEmail).toBe('mike.home@example.org');
  });

  it('INP-3 finds nobody, and sends nothing, for look-alikes of mike', async () => {
    const lookAlikes = [
      'M\u0130KE@corp.test', // Latin capital I with dot above: lower-cases to i + combining dot, not i
      'm\u0131ke@corp.test', // Latin small dotless i
      'M\u0130KE',
      'm\u0131ke',
      'mike@corp.test\u200b', // zero-width space
      '\u200bmike',
      'mi\u200dke', // zero-width joiner
      'mi\u00adke', // soft hyphen
      'mi\u200eke', // left-to-right mark
      'm\u0456ke@corp.test', // Cyrillic small i
      'm\u0456ke',
      '\u043cike', // Cyrillic em
      'mike@corp.tes\u0442', // Cyrillic te in the domain
      'mike\u0000',
      'mi ke',
      'mike@corp.test@corp.test',
      'mike@corp.test.',
    ];
    for (const lookAlike of lookAlikes) expect(await recipientsFor(lookAlike), JSON.stringify(lookAlike)).toEqual([]);
  });

  it('INP-3 matches decomposed (NFD) and precomposed spellings of zoë alike, and mails only her stored address', async () => {
    for (const spelling of ['zo\u00eb', 'zoe\u0308', 'ZOE\u0308', 'zoe\u0308@corp.test', 'ZO\u00cb@CORP.TEST']) {
      expect(await recipientsFor(spelling), JSON.stringify(spelling)).toEqual([zoe.altEmail]);
    }
    for (const other of ['zoe', 'zoe@corp.test', 'zo\u00e8', 'zoe\u0300']) expect(await recipientsFor(other), JSON.stringify(other)).toEqual([]);
  });

  it('INP-3 applies the same canonical form at sign-in as at recovery', async () => {
    const signIn = (username: string) => call(h, 'POST', '/api/me/sign-in', { username, password: 'mike walks past seven quiet lanterns' });
    for (const spelling of ['\uff4d\uff49\uff4b\uff45', 'MIKE@corp.test']) expect(json<{ status?: string }>(await signIn(spelling)).status, spelling).toBe('gate_required');
    for (const lookAlike of ['m\u0131ke', 'M\u0130KE', 'mike\u200b', 'm\u0456ke']) expect((await signIn(lookAlike)).statusCode, JSON.stringify(lookAlike)).toBe(401);
  });

  it('INP-3 refuses, at creation, a username that folds onto an existing one or mixes scripts', async () => {
    for (const username of ['\uff4d\uff49\uff4b\uff45', 'MIKE', 'zoe\u0308']) {
      await expect(createAccount(h, { username }), username).rejects.toMatchObject({ code: 'request.invalid', detail: expect.stringMatching(/already exists/) as unknown });
    }
    for (const username of ['m\u0456ke', 'mike\u200b', 'mi\u00adke']) {
      await expect(createAccount(h, { username }), JSON.stringify(username)).rejects.toMatchObject({ code: 'request.invalid', detail: expect.stringMatching(/is not valid/) as unknown });
    }
    // A look-alike that is a legitimate name of its own script stands alone and finds only itself.
    await createPerson(h, 'm\u0131ke');
    expect(await recipientsFor('mike')).toEqual([mike.altEmail]);
  });
});
