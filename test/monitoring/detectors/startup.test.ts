import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createPerson, json, roomyLimits, startFlow, startHarness, type Harness, type PolicyEdit } from '../../support/harness.ts';
import { ConfigError } from '../../../src/server/config/config.ts';
import { PolicyLoadError } from '../../../src/server/compose.ts';
import type { Finding } from '../../../src/core/monitoring/finding.ts';
import { GEOIP_FIXTURE } from './stream.ts';

/*
 * Composition: what the detectors need from the server configuration is checked at start, and with
 * a GeoIP database configured the geographic detectors run on real events of the API.
 */

const geoOn: PolicyEdit = (policy) => {
  policy.monitoring.new_country.enabled = true;
  policy.monitoring.impossible_travel.enabled = true;
};

describe('starting with detectors', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-detector-start-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('refuses a policy that turns on the GeoIP detectors without a GeoIP database', async () => {
    const attempt = startHarness({ engine: 'sqlite', policy: [roomyLimits, geoOn] });
    await expect(attempt).rejects.toThrow(PolicyLoadError);
    await expect(attempt).rejects.toThrow('the policy turns on monitoring.new_country and monitoring.impossible_travel but detectors.geoipDatabase is not configured');
  });

  it('refuses a malformed deny list or an unreadable GeoIP database as a configuration error naming the key and line', async () => {
    const broken = join(dir, 'broken.txt');
    await writeFile(broken, '192.0.2.1\n192.0.2.0/40\n');
    const denied = startHarness({ engine: 'sqlite', env: { LATCHKEY_DETECTORS__DENY_LIST_FILES: broken } });
    await expect(denied).rejects.toThrow(ConfigError);
    await expect(denied).rejects.toThrow(`detectors.denyListFiles: ${broken}:2: '192.0.2.0/40' is not an IP address or CIDR network`);
    const geo = startHarness({ engine: 'sqlite', env: { LATCHKEY_DETECTORS__GEOIP_DATABASE: join(dir, 'missing.mmdb') } });
    await expect(geo).rejects.toThrow(/detectors\.geoipDatabase: cannot open GeoIP database .*missing\.mmdb/);
  });
});

describe('GeoIP detectors on real API events', () => {
  let h: Harness;
  const findings: Finding[] = [];

  beforeAll(async () => {
    h = await startHarness({
      engine: 'sqlite',
      policy: [roomyLimits, geoOn],
      env: { LATCHKEY_DETECTORS__GEOIP_DATABASE: GEOIP_FIXTURE },
      findingSink: { raise: (finding) => Promise.resolve(void findings.push(finding)) },
    });
  });
  afterAll(async () => h.close());

  it('raises new_country and impossible_travel for sign-ins and a reset from far-apart documentation ranges', async () => {
    const person = await createPerson(h, 'olga');
    // No methods yet: the password alone opens a session (sign_in.succeeded), here from Berlin.
    const berlin = await call(h, 'POST', '/api/me/sign-in', { username: person.username, password: person.password }, { ip: '192.0.2.44' });
    expect(json<{ status: string }>(berlin).status).toBe('signed_in');
    h.clock.advance(1800);
    await startFlow(h, 'olga', 'reset', { ip: '203.0.113.44' });
    await call(h, 'POST', '/api/me/sign-in', { username: person.username, password: person.password }, { ip: '203.0.113.44' });
    await h.latchkey.detectors.worker.runOnce();
    expect(findings.map((f) => [f.detectorId, f.summary])).toEqual([
      ['new_country', 'A reset was started for an account from AU, a country it never signed in or recovered from before'],
      ['unusual_network', 'A reset was started for an account from a network and provider (AS64502) it never succeeded from before'],
      ['impossible_travel', 'One account succeeded from DE and then AU, 16094 km apart within 30 minutes'],
    ]);
  });
});
