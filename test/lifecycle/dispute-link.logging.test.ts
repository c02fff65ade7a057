import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPerson, enrolEmailAndTotp, startHarness, type Harness } from '../support/harness.ts';
import { signInWithGate } from '../security/support.ts';
import { loggedHarness, type LogCapture } from '../security/checks.support.ts';
import { addVerifiedPhone, cookieHeader, disputeLinkTo } from './support.ts';

/*
 * The token of a "this wasn't me" link is in the URL path, which the request log records: it is
 * cut out there, so whoever reads the logs cannot follow (or spoil) someone else's link.
 */

describe('"this wasn\'t me" links in the request log', () => {
  let h: Harness;
  let lh: Harness;
  let log: LogCapture;

  beforeAll(async () => {
    h = await startHarness({ engine: 'sqlite', env: { LATCHKEY_LOG_LEVEL: 'info' } });
    ({ lh, log } = await loggedHarness(h));
  });

  afterAll(async () => {
    await lh.close();
    await h.close();
  });

  it('logs the visit and the confirmation without the token', async () => {
    const kim = await createPerson(lh, 'kim');
    const methods = await enrolEmailAndTotp(lh, kim);
    await addVerifiedPhone(lh, await signInWithGate(lh, kim, methods), '+447700900666');
    const link = await disputeLinkTo(lh, kim.email);
    const opened = await lh.app.inject({ method: 'GET', url: link.path });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(opened.body)?.[1] ?? '';
    const confirmed = await lh.app.inject({ method: 'POST', url: link.path, headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookieHeader(opened) }, payload: new URLSearchParams({ _csrf: csrf }).toString() });
    expect(confirmed.statusCode).toBe(200);
    expect(log.text).toContain('/this-wasnt-me/[redacted]');
    expect(log.text).not.toContain(link.token);
  });
});
