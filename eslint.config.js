// Lint for Latchkey. Syntax-only (no type information) so `npm run lint` stays fast.
//
// The `no-restricted-imports` blocks below enforce the dependency direction of STYLE.md §1:
// server → adapters → core, cli → server/core, never back. Each folder gets exactly one such block
// (flat config replaces a rule's options rather than merging them), and
// test/architecture/dependency-direction.test.ts proves that each boundary fires.
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** Node built-ins that do I/O, with and without the `node:` prefix. `node:crypto` stays allowed. */
const IO_BUILTINS = [
  'fs',
  'fs/promises',
  'net',
  'http',
  'https',
  'http2',
  'child_process',
  'dgram',
  'dns',
  'tls',
].flatMap((name) => [name, `node:${name}`]);

/** Packages that talk to a database, the network, a directory or the process; adapters use them. */
const IO_PACKAGES = [
  'pg',
  'better-sqlite3',
  'kysely',
  'fastify',
  'nodemailer',
  'ldapts',
  'rate-limiter-flexible',
  '@node-rs/argon2',
  'prom-client',
];

/**
 * Matches a relative or absolute import whose path has `folder` as one of its segments. Bare package
 * names never match, so a package such as `@simplewebauthn/server` is not mistaken for src/server.
 */
const layer = (folder) => `^(\\.{1,2}/|/)(.*/)?${folder}(/|$)`;

const coreRestrictions = {
  paths: [
    ...IO_BUILTINS.map((name) => ({
      name,
      message: 'src/core does no I/O: declare a port in src/core/ports and implement it in src/adapters.',
    })),
    ...IO_PACKAGES.map((name) => ({
      name,
      message: 'src/core depends on no I/O library: declare a port in src/core/ports and implement it in src/adapters.',
    })),
  ],
  patterns: [
    {
      group: ['@fastify/*', 'kysely/*', 'pg/*', 'nodemailer/*', 'ldapts/*', 'prom-client/*'],
      message: 'src/core depends on no I/O library: declare a port in src/core/ports and implement it in src/adapters.',
    },
    {
      regex: layer('adapters'),
      message: 'src/core may not import src/adapters: the core owns the port, the adapter implements it.',
    },
    { regex: layer('server'), message: 'src/core may not import src/server (dependency direction is server → core).' },
    { regex: layer('cli'), message: 'src/core may not import src/cli (dependency direction is cli → core).' },
  ],
};

const adapterRestrictions = {
  patterns: [
    { regex: layer('server'), message: 'src/adapters may not import src/server (dependency direction is server → adapters).' },
    { regex: layer('cli'), message: 'src/adapters may not import src/cli (dependency direction is cli → adapters).' },
  ],
};

const serverRestrictions = {
  patterns: [{ regex: layer('cli'), message: 'src/server may not import src/cli (dependency direction is cli → server).' }],
};

export default defineConfig(
  globalIgnores(['node_modules/', '.tmp/', 'data/', 'coverage/']),
  tseslint.configs.recommended,
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      'no-control-regex': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      // A leading underscore marks a parameter a contract passes but this implementation ignores.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { prefer: 'type-imports', fixStyle: 'inline-type-imports' },
      ],
      '@typescript-eslint/ban-ts-comment': [
        'error',
        {
          'ts-ignore': true,
          'ts-nocheck': true,
          'ts-check': false,
          'ts-expect-error': 'allow-with-description',
          minimumDescriptionLength: 10,
        },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**'],
    rules: { 'no-console': 'error' },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', coreRestrictions] },
  },
  {
    files: ['src/adapters/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', adapterRestrictions] },
  },
  {
    files: ['src/server/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', serverRestrictions] },
  },
);
