import { expect } from 'vitest';
import { call, createPerson, enrolEmailAndTotp, json, oathtoolCode, roomyLimits, startHarness, type Engine, type Harness, type Person, type PolicyEdit } from '../support/harness.ts';

/** Directory groups the helpdesk suites map to console roles. */
export const HELPDESK_GROUP = 'helpdesk-staff';
export const SECURITY_ADMIN_GROUP = 'sec-admins';

const consoleRoles: PolicyEdit = (policy) => {
  policy.adminRoles = { security_admin: [SECURITY_ADMIN_GROUP], helpdesk: [HELPDESK_GROUP], auditor: [] };
};

/** A harness whose policy maps the helpdesk groups to roles, with roomy request limits. */
export function startHelpdeskHarness(engine: Engine, options: { policy?: readonly PolicyEdit[]; env?: Readonly<Record<string, string>> } = {}): Promise<Harness> {
  return startHarness({ engine, policy: [roomyLimits, consoleRoles, ...(options.policy ?? [])], ...(options.env ? { env: options.env } : {}) });
}

export interface Operator {
  readonly person: Person;
  /** The console session token, used as a bearer token. */
  readonly token: string;
}

/**
 * A directory account with a console role, signed in to the console (password, then TOTP): the
 * agent the helpdesk API sees, with its own account id, roles and permissions.
 */
export async function signInOperator(h: Harness, username: string, groups: string[]): Promise<Operator> {
  const person = await createPerson(h, username, { groups });
  const enrolled = await enrolEmailAndTotp(h, person);
  const pending = await call(h, 'POST', '/api/admin/session', { username: person.username, password: person.password });
  expect(pending.statusCode, pending.body).toBe(202);
  const signedIn = await call(h, 'POST', '/api/admin/session/second-factor', { pendingToken: json<{ pendingToken: string }>(pending).pendingToken, code: oathtoolCode(enrolled.totpSeed, h.clock) });
  expect(signedIn.statusCode, signedIn.body).toBe(200);
  // The code just used may not be used again (TOK-14).
  h.clock.advance(30);
  return { person, token: json<{ sessionToken: string }>(signedIn).sessionToken };
}

/** Verifies a person out of band (what policy allows for standard accounts) and returns the verification id. */
export async function verifyOutOfBand(h: Harness, operator: Pick<Operator, 'token'>, accountId: string): Promise<string> {
  const response = await call(h, 'POST', '/api/admin/helpdesk/verifications', { accountId, method: 'out_of_band', reason: 'Checked the photo ID in person at the desk', ticket: 'HD-1001' }, { token: operator.token });
  expect(response.statusCode, response.body).toBe(200);
  return json<{ verification: { id: string } }>(response).verification.id;
}

/** Issues a pass on a verification; returns the pass (as shown once) and its id. */
export async function issuePass(h: Harness, operator: Pick<Operator, 'token'>, accountId: string, extra: Record<string, unknown> = {}): Promise<{ pass: string; id: string }> {
  const verificationId = await verifyOutOfBand(h, operator, accountId);
  const response = await call(h, 'POST', '/api/admin/helpdesk/passes', { accountId, verificationId, ...extra }, { token: operator.token });
  expect(response.statusCode, response.body).toBe(200);
  const body = json<{ pass: string; accessPass: { id: string } }>(response);
  return { pass: body.pass, id: body.accessPass.id };
}

/** Signs in with a pass. */
export function signInWithPass(h: Harness, username: string, pass: string, ip?: string) {
  return call(h, 'POST', '/api/me/sign-in/pass', { username, pass }, ip ? { ip } : {});
}

/**
 * An admin API token with `tap:issue`: serves standard accounts only (no role stands behind a
 * token), and does not idle out when a suite moves the clock by hours.
 */
export async function helpdeskToken(h: Harness): Promise<Pick<Operator, 'token'>> {
  const created = await h.latchkey.adminTokens.create({ name: 'helpdesk tool', scopes: ['tap:issue'] }, { kind: 'cli', id: 'test' });
  return { token: created.token };
}
