import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboundMessage } from '../../src/core/ports/message-channel.ts';
import { ENGINES, allMessages, call, enrolEmailAndTotp, json, passTwoGates, startFlow, startHarness, type Harness } from '../support/harness.ts';
import { adminToken, createAccount } from './checks.support.ts';

/*
 * INP-8: messages are built from fixed templates and server facts only. A display name that is a
 * template expression or markup never reaches a message, is never evaluated (no `49`), and a
 * person with such a name gets word for word the messages a person with a plain name gets.
 */

const HOSTILE_NAMES = ['{{7*7}}', '${7*7}', '<%= 7*7 %>', '<img src=x onerror=alert(1)>', '#{7*7} <a href="https://evil.test">Click</a>'];

/** Digits (codes, times, addresses), the random token of a "this wasn't me" link and the person's own username and addresses set aside. */
const shape = (message: OutboundMessage, username: string): string =>
  `${message.channel} ${message.purpose}\n${message.subject ?? ''}\n${message.text}`
    .replace(/\/this-wasnt-me\/[A-Za-z0-9_-]{43}/g, '/this-wasnt-me/<token>')
    .replaceAll(username, '<user>')
    .replace(/\d/g, '#');

describe.each(ENGINES)('template injection on %s', (engine) => {
  let h: Harness;
  const messagesOf: Record<string, OutboundMessage[]> = {};

  beforeAll(async () => {
    h = await startHarness({ engine });
    const people = [{ username: 'plain', displayName: 'Plain Person' }, ...HOSTILE_NAMES.map((displayName, index) => ({ username: `hostile${index}`, displayName }))];
    for (const { username, displayName } of people) {
      const person = await createAccount(h, { username, displayName, email: `${username}@corp.test` });
      const before = (await allMessages(h)).length;
      const enrolled = await enrolEmailAndTotp(h, { ...person, email: `${username}@corp.test` });
      const grant = await passTwoGates(h, (await startFlow(h, username)).token, enrolled);
      const password = 'violet herons wade past the old mill';
      expect((await call(h, 'POST', '/api/recovery/flow/password', { password, confirmPassword: password }, { token: grant })).statusCode).toBe(200);
      messagesOf[username] = (await allMessages(h)).slice(before);
    }
  });
  afterAll(async () => {
    await h.close();
  });

  it('INP-8 never puts a display name, evaluated or not, into any message', async () => {
    for (const [index, name] of HOSTILE_NAMES.entries()) {
      const messages = messagesOf[`hostile${index}`] ?? [];
      expect(messages.length).toBeGreaterThanOrEqual(5);
      for (const message of messages) {
        const all = `${message.subject ?? ''}\n${message.text}`;
        expect(all).not.toContain(name);
        expect(all).not.toMatch(/\{\{|\}\}|\$\{|<%|#\{|<img|onerror|<a |href|evil\.test|7\*7/);
      }
    }
  });

  it('INP-8 sends a person named {{7*7}} word for word the messages a person with a plain name gets (no 49 anywhere)', async () => {
    const reference = (messagesOf['plain'] ?? []).map((message) => shape(message, 'plain'));
    expect(reference.length).toBeGreaterThanOrEqual(5);
    for (const [index] of HOSTILE_NAMES.entries()) {
      expect((messagesOf[`hostile${index}`] ?? []).map((message) => shape(message, `hostile${index}`)), HOSTILE_NAMES[index]).toEqual(reference);
    }
    // And with digits kept: once the one-time codes and the timestamps are taken out, no 49 is left.
    const withoutCodesAndTimes = (text: string): string => text.replace(/\b\d{6,10}\b/g, '').replace(/\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? UTC/g, '');
    for (const message of messagesOf['hostile0'] ?? []) expect(withoutCodesAndTimes(`${message.subject ?? ''} ${message.text}`)).not.toContain('49');
  });

  it('INP-8 hands display names to API clients only as JSON data, with nosniff, never as markup', async () => {
    const token = await adminToken(h, ['accounts:read']);
    const response = await call(h, 'GET', '/api/admin/accounts?query=hostile3', undefined, { token });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['content-security-policy']).toContain("default-src 'none'");
    const accounts = json<{ accounts: { displayName?: string }[] }>(response).accounts;
    expect(accounts.map((account) => account.displayName)).toEqual(['<img src=x onerror=alert(1)>']);
  });
});
