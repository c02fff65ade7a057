import { readFileSync } from 'node:fs';
import { DEFAULT_POLICY_FILE_URL } from '../../src/core/policy/default-policy.ts';
import { parsePolicy } from '../../src/core/policy/load.ts';
import type { Policy } from '../../src/core/policy/schema.ts';

/** The shipped policy, parsed by the one schema (so defaults such as `simSwap` are applied). */
export function loadDefaultPolicyForTest(): Policy {
  const parsed = parsePolicy(readFileSync(DEFAULT_POLICY_FILE_URL, 'utf8'), 'default.yaml');
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.policy;
}
