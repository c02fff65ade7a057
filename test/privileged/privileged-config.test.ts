import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/server/config/config.ts';

/* The `securityAdmins` section of the server configuration: validated at start, errors name the key. */

describe('securityAdmins configuration', () => {
  it('reads the addresses from a list or a comma-separated variable', () => {
    expect(loadConfig('securityAdmins:\n  emails: [soc@corp.test, ciso@corp.test]\n', 'latchkey.yaml', {}).securityAdmins.emails).toEqual(['soc@corp.test', 'ciso@corp.test']);
    expect(loadConfig(null, 'latchkey.yaml', { LATCHKEY_SECURITY_ADMINS__EMAILS: 'soc@corp.test, ciso@corp.test' }).securityAdmins.emails).toEqual(['soc@corp.test', 'ciso@corp.test']);
    expect(loadConfig(null, 'latchkey.yaml', {}).securityAdmins.emails).toEqual([]);
  });

  it('refuses a malformed address or an unknown key at start, naming it', () => {
    const problems = (yaml: string | null, env: Record<string, string>): string => {
      try {
        loadConfig(yaml, 'latchkey.yaml', env);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).problems.join('\n');
      }
      throw new Error('the configuration was accepted');
    };
    expect(problems(null, { LATCHKEY_SECURITY_ADMINS__EMAILS: 'soc@corp.test, not-an-address' })).toMatch(/securityAdmins\.emails.*must be e-mail addresses/);
    expect(problems('securityAdmins:\n  email: soc@corp.test\n', {})).toContain('securityAdmins');
  });
});
