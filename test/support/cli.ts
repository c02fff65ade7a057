import { join } from 'node:path';
import { vi } from 'vitest';
import { runCli } from '../../src/cli/main.ts';
import { composeLatchkey, type Latchkey } from '../../src/server/compose.ts';
import { loadConfig } from '../../src/server/config/config.ts';
import { POSTGRES_URL, type Harness } from './harness.ts';

/** What one `latchkey` command did: its exit code and everything it wrote. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  /** What the command reads on standard input (e.g. for `--password-stdin`); unset leaves stdin alone. */
  readonly stdin?: string;
}

const isOperatorVariable = (name: string): boolean => name.startsWith('LATCHKEY_') && !name.startsWith('LATCHKEY_TEST_');

/**
 * Runs `fn` with exactly these LATCHKEY_* variables, then restores the environment as it was.
 * The suite's own LATCHKEY_TEST_* variables stay, so a database URL set for the run still reaches it.
 */
export async function withLatchkeyEnv<T>(env: Readonly<Record<string, string>>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.entries(process.env).filter(([name]) => isOperatorVariable(name));
  for (const [name] of saved) delete process.env[name];
  Object.assign(process.env, env);
  try {
    return await fn();
  } finally {
    for (const name of Object.keys(process.env)) if (isOperatorVariable(name)) delete process.env[name];
    for (const [name, value] of saved) process.env[name] = value;
  }
}

/**
 * Runs `latchkey ARGS` in this process, as an operator's shell would, with exactly `env` as its
 * LATCHKEY_* variables (see withLatchkeyEnv), capturing what it writes to stdout and stderr.
 */
export function runLatchkey(env: Readonly<Record<string, string>>, args: readonly string[], options: CliOptions = {}): Promise<CliRun> {
  return captureCli(env, () => runCli(args), options);
}

/** Runs `run` (a CLI entry point returning an exit code) as runLatchkey runs the command line. */
export async function captureCli(env: Readonly<Record<string, string>>, run: () => Promise<number>, options: CliOptions = {}): Promise<CliRun> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const capture = (sink: string[]) => (chunk: string | Uint8Array): boolean => {
    sink.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  };
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture(stdout) as typeof process.stdout.write);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture(stderr) as typeof process.stderr.write);
  const { stdin } = options;
  const input = stdin === undefined ? null : vi.spyOn(process.stdin, Symbol.asyncIterator).mockImplementation(async function* () {
    yield Buffer.from(stdin);
  });
  try {
    const code = await withLatchkeyEnv(env, run);
    return { code, stdout: stdout.join(''), stderr: stderr.join('') };
  } finally {
    out.mockRestore();
    err.mockRestore();
    input?.mockRestore();
  }
}

/**
 * The LATCHKEY_* variables under which the CLI works on a harness's installation, as an operator's
 * shell next to the running server would: its data directory and policy file and, on PostgreSQL,
 * its database with the harness's own schema on the search_path of the URL.
 */
export function harnessCliEnv(h: Harness): Record<string, string> {
  const env: Record<string, string> = { LATCHKEY_DATA_DIR: h.dataDir, LATCHKEY_POLICY_FILE: join(h.dataDir, 'policy.yaml'), LATCHKEY_LOG_LEVEL: 'silent' };
  if (h.postgresSchema !== null && POSTGRES_URL) {
    const url = new URL(POSTGRES_URL);
    url.searchParams.set('options', `-c search_path=${h.postgresSchema}`);
    env['LATCHKEY_DATABASE_URL'] = url.toString();
  }
  return env;
}

/**
 * Composes a Latchkey from exactly these LATCHKEY_* variables (no config file), runs `work` on it and
 * closes it: to seed what a command will then read, or to read back what it wrote.
 */
export async function withLatchkey<T>(env: Readonly<Record<string, string>>, work: (latchkey: Latchkey) => Promise<T>): Promise<T> {
  const latchkey = await composeLatchkey(loadConfig(null, 'test', env));
  try {
    return await work(latchkey);
  } finally {
    await latchkey.close();
  }
}
