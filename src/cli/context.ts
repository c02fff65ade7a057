import { readFile } from 'node:fs/promises';
import { loadConfig, type Config } from '../server/config/config.ts';

/** A usage mistake: exit code 2, as opposed to a failure found (1). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Reads latchkey.yaml (or LATCHKEY_CONFIG) when present, then the environment. */
export async function readConfig(env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const path = env['LATCHKEY_CONFIG'] ?? 'latchkey.yaml';
  let text: string | null = null;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || env['LATCHKEY_CONFIG']) throw new UsageError(`cannot read the configuration file ${path}: ${(error as Error).message}`);
  }
  return loadConfig(text, path, env);
}
