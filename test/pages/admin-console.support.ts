import { call, createPerson, json, oathtoolCode, roomyLimits, signInFresh, type Engine, type Harness, type HarnessOptions, type Person } from '../support/harness.ts';
import { startPortalHarness } from './support.ts';

/** The role groups every console test configures (policy adminRoles). */
export const CONSOLE_ROLE_GROUPS = { security_admin: ['sec-admins'], helpdesk: ['helpdesk'], auditor: ['auditors'] };

export interface ConsoleAdmin extends Person {
  /** The base32 seed of the admin's authenticator app, for oathtool. */
  readonly totpSeed: string;
}

export interface ConsoleAdmins {
  readonly security: ConsoleAdmin;
  readonly helpdesk: ConsoleAdmin;
  readonly auditor: ConsoleAdmin;
}

/** Registers an authenticator app for a fresh account (the password alone opens its self-service session). */
async function enrolTotp(h: Harness, person: Person): Promise<string> {
  const session = await signInFresh(h, person);
  const totp = json<{ enrollment: { id: string }; shownOnce: { secret: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'totp' }, { token: session }));
  const verified = await call(h, 'POST', `/api/me/methods/${totp.enrollment.id}/verify`, { code: oathtoolCode(totp.shownOnce.secret, h.clock) }, { token: session });
  if (verified.statusCode !== 200) throw new Error(`totp verification failed: ${verified.body}`);
  return totp.shownOnce.secret;
}

/** A portal harness whose policy maps the three admin roles, with one admin of each (TOTP registered). */
export async function startConsoleHarness(engine: Engine, options: Omit<HarnessOptions, 'engine'> = {}): Promise<{ h: Harness; admins: ConsoleAdmins }> {
  const h = await startPortalHarness(engine, { ...options, policy: [roomyLimits, (policy) => void (policy.adminRoles = CONSOLE_ROLE_GROUPS), ...(options.policy ?? [])] });
  const admin = async (username: string, group: string, department: string): Promise<ConsoleAdmin> => {
    const person = await createPerson(h, username, { groups: [group], department });
    return { ...person, totpSeed: await enrolTotp(h, person) };
  };
  const admins = { security: await admin('sec.admin', 'sec-admins', 'Security'), helpdesk: await admin('hd.agent', 'helpdesk', 'Service Desk'), auditor: await admin('aud.reader', 'auditors', 'Audit') };
  return { h, admins };
}

/** A console session opened through the API: the cookie header to send and the CSRF token. */
export interface ConsoleSignIn {
  readonly cookie: string;
  readonly csrf: string;
  readonly setCookie: string;
}

/** Signs an admin in with password and a real TOTP code (oathtool), at a fresh time step (a step is usable once). */
export async function signInAdmin(h: Harness, admin: ConsoleAdmin): Promise<ConsoleSignIn> {
  h.clock.advance(30);
  const pending = await call(h, 'POST', '/api/admin/session', { username: admin.username, password: admin.password });
  if (pending.statusCode !== 202) throw new Error(`admin password step failed: ${pending.body}`);
  const done = await call(h, 'POST', '/api/admin/session/second-factor', { pendingToken: json<{ pendingToken: string }>(pending).pendingToken, code: oathtoolCode(admin.totpSeed, h.clock) });
  if (done.statusCode !== 200) throw new Error(`admin second factor failed: ${done.body}`);
  const setCookie = String(done.headers['set-cookie']);
  return { cookie: setCookie.split(';')[0] ?? '', csrf: json<{ csrfToken: string }>(done).csrfToken, setCookie };
}
