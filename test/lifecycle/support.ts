import { expect } from 'vitest';
import { call, json, latestCode, messagesTo, type Harness } from '../support/harness.ts';

export const DAY_SECONDS = 86_400;

/** The "this wasn't me" link in the newest change notice to an address. */
export async function disputeLinkTo(h: Harness, to: string): Promise<{ url: string; path: string; token: string }> {
  const notices = (await messagesTo(h, to)).filter((message) => message.purpose === 'enrollment_notice');
  const last = notices[notices.length - 1];
  const url = last ? /https?:\/\/\S+\/this-wasnt-me\/([A-Za-z0-9_-]{43})/.exec(last.text) : null;
  if (!url?.[1]) throw new Error(`no change notice with a link was sent to ${to}`);
  return { url: url[0], path: new URL(url[0]).pathname, token: url[1] };
}

/** The cookies a page set, as one Cookie header. */
export function cookieHeader(response: { headers: Record<string, unknown> }): string {
  const raw = response.headers['set-cookie'];
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
  return list.map((line: string) => line.split(';')[0]).join('; ');
}

/** Registers a phone and verifies it with the texted code; returns its enrollment id and the verification reply. */
export async function addVerifiedPhone(h: Harness, session: string, phone: string): Promise<{ id: string; verified: Record<string, unknown> }> {
  const added = await call(h, 'POST', '/api/me/methods', { method: 'sms_code', phone }, { token: session });
  expect(added.statusCode).toBe(201);
  const id = json<{ enrollment: { id: string } }>(added).enrollment.id;
  const verified = await call(h, 'POST', `/api/me/methods/${id}/verify`, { code: await latestCode(h, phone) }, { token: session });
  expect(verified.statusCode).toBe(200);
  return { id, verified: json<{ enrollment: Record<string, unknown> }>(verified).enrollment };
}
