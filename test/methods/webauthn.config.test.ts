import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/server/config/config.ts';
import { resolveRelyingParty } from '../../src/server/config/webauthn.ts';

/* The passkey relying party from configuration: defaults that follow the portal, and start-up errors naming the key. */

const resolve = (env: Record<string, string>) => {
  const config = loadConfig(null, 'latchkey.yaml', env);
  return resolveRelyingParty(config.webauthn, { publicUrl: config.portal.publicUrl, port: config.port, organisation: 'Corp' });
};

const problemsOf = (run: () => unknown): readonly string[] => {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('the configuration was accepted');
};

describe('webauthn configuration', () => {
  it('defaults to localhost on the configured port without a public URL', () => {
    expect(resolve({ LATCHKEY_PORT: '9090' })).toEqual({ id: 'localhost', name: 'Corp', origins: ['http://localhost:9090'] });
  });

  it('follows portal.publicUrl: its host is the RP id, its origin the only origin', () => {
    expect(resolve({ LATCHKEY_PORTAL__PUBLIC_URL: 'https://reset.example.com' })).toEqual({ id: 'reset.example.com', name: 'Corp', origins: ['https://reset.example.com'] });
  });

  it('takes an RP id on a parent domain and a comma-separated list of origins under it', () => {
    expect(resolve({ LATCHKEY_WEBAUTHN__RP_ID: 'Example.com', LATCHKEY_WEBAUTHN__RP_NAME: 'Example', LATCHKEY_WEBAUTHN__ORIGINS: 'https://reset.example.com, https://id.example.com:8443' })).toEqual({
      id: 'example.com',
      name: 'Example',
      origins: ['https://reset.example.com', 'https://id.example.com:8443'],
    });
  });

  it('refuses an origin off the RP id, a plain-http origin other than localhost, a path or a bad RP id, naming the key', () => {
    expect(problemsOf(() => resolve({ LATCHKEY_WEBAUTHN__RP_ID: 'example.com', LATCHKEY_WEBAUTHN__ORIGINS: 'https://example.org' }))).toEqual([
      'webauthn.origins (LATCHKEY_WEBAUTHN__ORIGINS): https://example.org is not on the relying party id example.com or a subdomain of it',
    ]);
    expect(problemsOf(() => resolve({ LATCHKEY_WEBAUTHN__RP_ID: 'example.com', LATCHKEY_WEBAUTHN__ORIGINS: 'http://reset.example.com' }))[0]).toMatch(/^webauthn\.origins .*must use https/);
    expect(problemsOf(() => resolve({ LATCHKEY_WEBAUTHN__ORIGINS: 'https://reset.example.com/path' }))[0]).toMatch(/^webauthn\.origins\.0 \(LATCHKEY_WEBAUTHN__ORIGINS\): must be origins/);
    expect(problemsOf(() => resolve({ LATCHKEY_WEBAUTHN__RP_ID: 'https://example.com' }))[0]).toMatch(/^webauthn\.rpId \(LATCHKEY_WEBAUTHN__RP_ID\): must be a host name/);
  });
});
