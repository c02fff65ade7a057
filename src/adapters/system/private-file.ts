import { readFile, stat } from 'node:fs/promises';

/** Whether a file-system error has the given errno code (ENOENT, EEXIST, …). */
export function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && (error as { code: unknown }).code === code;
}

/**
 * Reads a file that holds a secret (a key file), or returns null when it does not exist. Refuses,
 * through `refuse`, a path that is not a regular file or that other local users could read or
 * replace: like ssh with private keys. `stat`, not `lstat`: secret mounts (Kubernetes, Docker)
 * present the file through a symlink.
 */
export async function readPrivateFile(path: string, refuse: (message: string) => Error): Promise<string | null> {
  let stats;
  try {
    stats = await stat(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return null;
    throw error;
  }
  if (!stats.isFile()) throw refuse(`${path} is not a regular file`);
  if (process.platform !== 'win32' && (stats.mode & 0o077) !== 0) {
    throw refuse(`${path} is accessible to other users (mode ${(stats.mode & 0o777).toString(8)}); run: chmod 600 ${path}`);
  }
  return readFile(path, 'utf8');
}
