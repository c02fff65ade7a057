import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { createArgon2Hasher } from '../../src/adapters/system/argon2-hasher.ts';
import { createSecretHasher, generateKeySpec, parseKeyring } from '../../src/adapters/system/keyring.ts';
import { createSystemRandom } from '../../src/adapters/system/random.ts';
import { asEnrollmentId } from '../../src/core/account/ids.ts';
import type { EnrolledSecret, EnrollmentDraft, MethodContext, MethodServices } from '../../src/core/methods/method.ts';
import { DEFAULT_POLICY_FILE_URL } from '../../src/core/policy/default-policy.ts';
import { policySchema, type Policy } from '../../src/core/policy/schema.ts';
import type { Random } from '../../src/core/ports/system.ts';

/** Deeply partial policy overrides for a test. */
type Overrides = { [K in keyof Policy]?: Policy[K] extends object ? { [P in keyof Policy[K]]?: Partial<Policy[K][P]> } : Policy[K] };

/** The method settings every test starts from (independent of the shipped defaults). */
const baseMethods = {
  email_code: { codeLength: 8, codeTtlSeconds: 600 },
  sms_code: { codeLength: 6, codeTtlSeconds: 300 },
  totp: { issuer: 'Example Corp', digits: 6, periodSeconds: 30, driftSteps: 1 },
  recovery_code: { count: 10 },
  security_questions: {
    enabled: false,
    questions: [
      'What was the name of the street you lived on at age ten?',
      'What was the make and model of your first car?',
      'What is the name of a teacher who influenced you?',
      'What was the first concert you went to?',
      'In which city did your parents meet?',
      'What was the name of your first employer?',
    ],
    answersRequired: 3,
  },
};

/** The shipped policy document: tiers, rate limits and the rest come from it, so it stays valid as the schema grows. */
const shipped = parseYaml(readFileSync(fileURLToPath(DEFAULT_POLICY_FILE_URL), 'utf8')) as Record<string, unknown>;

/** A valid policy (checked by the real schema) with method settings overridden. */
export function testPolicy(overrides: { methods?: Overrides['methods']; organisationName?: string } = {}): Policy {
  const methods: Record<string, unknown> = { ...baseMethods };
  for (const [id, settings] of Object.entries(overrides.methods ?? {})) {
    methods[id] = { ...(baseMethods as Record<string, object>)[id], ...settings };
  }
  return policySchema.parse({ ...shipped, organisationName: overrides.organisationName ?? 'Example Corp', methods });
}

/** Real services: system CSPRNG, a fresh key ring, and a deliberately cheap argon2id (tests only). */
export function testServices(random: Random = createSystemRandom()): MethodServices {
  return {
    random,
    secrets: createSecretHasher(parseKeyring(generateKeySpec(createSystemRandom()))),
    passwords: createArgon2Hasher({ memoryCost: 1024, timeCost: 1, maxConcurrent: 4 }),
  };
}

export function testContext(options: { policy?: Policy; services?: MethodServices; now?: Date; purpose?: MethodContext['purpose'] } = {}): MethodContext {
  return {
    now: options.now ?? new Date('2026-01-01T00:00:30Z'),
    purpose: options.purpose ?? 'reset',
    policy: options.policy ?? testPolicy(),
    displayName: 'Alice Example',
    services: options.services ?? testServices(),
  };
}

let counter = 0;
/** The enrollment a store would hand back for a draft. */
export function enrolled(draft: EnrollmentDraft, id?: string): EnrolledSecret {
  counter += 1;
  return { id: asEnrollmentId(id ?? `enr-${counter}`), secret: draft.secret };
}

/** A Random that records every `int` draw, for tests that must reconstruct what a method drew. */
export function recordingRandom(inner: Random = createSystemRandom()): Random & { readonly ints: number[]; reset(): void } {
  const ints: number[] = [];
  return {
    ints,
    reset: () => void ints.splice(0),
    bytes: (length) => inner.bytes(length),
    int: (max) => {
      const value = inner.int(max);
      ints.push(value);
      return value;
    },
    uuid: () => inner.uuid(),
  };
}
