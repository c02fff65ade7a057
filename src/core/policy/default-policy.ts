/**
 * Where the shipped default policy document lives: `policy/default.yaml` at the package root. A
 * URL constant, not a read: the core does no I/O, so the server or CLI reads the file and passes its
 * text to `parsePolicy`. Keeping one file (instead of a TypeScript copy) means the defaults the
 * operator reads, comments included, are exactly the defaults that run.
 */
export const DEFAULT_POLICY_FILE_URL: URL = new URL('../../../policy/default.yaml', import.meta.url);
