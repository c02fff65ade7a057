import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * The dependency direction of STYLE.md §1 (server → adapters → core, cli → server/core, never
 * back) is enforced by `no-restricted-imports` in eslint.config.js. These tests lint source text
 * under paths shaped like the real tree (no file is written) to prove each boundary fires, then
 * lint the real tree to prove it holds today.
 */
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const RULE = 'no-restricted-imports';

let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: repoRoot });
});

async function boundaryMessages(filePath: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: `${repoRoot}${filePath}` });
  if (result === undefined) throw new Error(`ESLint returned no result for ${filePath}`);
  return result.messages.filter((message) => message.ruleId === RULE).map((message) => message.message);
}

interface Fixture {
  readonly name: string;
  readonly filePath: string;
  readonly source: string;
}

const refused: readonly Fixture[] = [
  { name: 'core may not import node:fs', filePath: 'src/core/__lint_fixture__.ts', source: "import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n" },
  { name: 'core may not import node:fs/promises', filePath: 'src/core/__lint_fixture__.ts', source: "import { readFile } from 'node:fs/promises';\nexport const read = readFile;\n" },
  { name: 'core may not import fs without the node: prefix', filePath: 'src/core/__lint_fixture__.ts', source: "import { readFileSync } from 'fs';\nexport const read = readFileSync;\n" },
  { name: 'core may not import node:http', filePath: 'src/core/__lint_fixture__.ts', source: "import { createServer } from 'node:http';\nexport const serve = createServer;\n" },
  { name: 'core may not import a SQL driver', filePath: 'src/core/__lint_fixture__.ts', source: "import pg from 'pg';\nexport const driver = pg;\n" },
  { name: 'core may not import the query builder', filePath: 'src/core/__lint_fixture__.ts', source: "import { Kysely } from 'kysely';\nexport const Db = Kysely;\n" },
  { name: 'core may not import a Fastify plugin', filePath: 'src/core/__lint_fixture__.ts', source: "import cookie from '@fastify/cookie';\nexport const plugin = cookie;\n" },
  { name: 'core may not import an adapter', filePath: 'src/core/flows/__lint_fixture__.ts', source: "import { openStore } from '../../adapters/store/open-store.ts';\nexport const open = openStore;\n" },
  { name: 'core may not import an adapter even for a type', filePath: 'src/core/flows/__lint_fixture__.ts', source: "import type { Engine } from '../../adapters/store/kysely-store.ts';\nexport type StoreEngine = Engine;\n" },
  { name: 'core may not import the server', filePath: 'src/core/__lint_fixture__.ts', source: "import { composeLatchkey } from '../server/compose.ts';\nexport const compose = composeLatchkey;\n" },
  { name: 'core may not import the CLI', filePath: 'src/core/__lint_fixture__.ts', source: "import { runCli } from '../cli/main.ts';\nexport const run = runCli;\n" },
  { name: 'an adapter may not import the server', filePath: 'src/adapters/store/__lint_fixture__.ts', source: "import { loadConfig } from '../../server/config/config.ts';\nexport const load = loadConfig;\n" },
  { name: 'an adapter may not import the CLI', filePath: 'src/adapters/store/__lint_fixture__.ts', source: "import { runCli } from '../../cli/main.ts';\nexport const run = runCli;\n" },
  { name: 'the server may not import the CLI', filePath: 'src/server/__lint_fixture__.ts', source: "import { runCli } from '../cli/main.ts';\nexport const run = runCli;\n" },
];

const allowed: readonly Fixture[] = [
  { name: 'core may import node:crypto', filePath: 'src/core/__lint_fixture__.ts', source: "import { randomBytes } from 'node:crypto';\nexport const random = randomBytes;\n" },
  { name: 'core may import zod', filePath: 'src/core/__lint_fixture__.ts', source: "import { z } from 'zod';\nexport const schema = z.string();\n" },
  { name: 'core may import a package whose name ends in /server', filePath: 'src/core/__lint_fixture__.ts', source: "import { verifyRegistrationResponse } from '@simplewebauthn/server';\nexport const verify = verifyRegistrationResponse;\n" },
  { name: 'core may import core', filePath: 'src/core/flows/__lint_fixture__.ts', source: "import { DomainError } from '../errors.ts';\nexport const E = DomainError;\n" },
  { name: 'an adapter may import core', filePath: 'src/adapters/store/__lint_fixture__.ts', source: "import { DomainError } from '../../core/errors.ts';\nexport const E = DomainError;\n" },
  { name: 'an adapter may import an I/O library', filePath: 'src/adapters/store/__lint_fixture__.ts', source: "import { Kysely } from 'kysely';\nexport const Db = Kysely;\n" },
  { name: 'the server may import an adapter', filePath: 'src/server/__lint_fixture__.ts', source: "import { openStore } from '../adapters/store/open-store.ts';\nexport const open = openStore;\n" },
  { name: 'the CLI may import the server', filePath: 'src/cli/__lint_fixture__.ts', source: "import { composeLatchkey } from '../server/compose.ts';\nexport const compose = composeLatchkey;\n" },
];

describe('dependency direction', () => {
  it.each(refused)('$name', async ({ filePath, source }) => {
    expect(await boundaryMessages(filePath, source)).toHaveLength(1);
  });

  it.each(allowed)('$name', async ({ filePath, source }) => {
    expect(await boundaryMessages(filePath, source)).toEqual([]);
  });

  it('the real source tree breaks no boundary', async () => {
    const results = await eslint.lintFiles(['src']);
    expect(results.length).toBeGreaterThan(50);
    const violations = results.flatMap((result) =>
      result.messages
        .filter((message) => message.ruleId === RULE)
        .map((message) => `${result.filePath}:${message.line} ${message.message}`),
    );
    expect(violations).toEqual([]);
  });
});
