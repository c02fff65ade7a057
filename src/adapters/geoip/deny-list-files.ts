import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { NetworkDenyList } from '../../core/ports/geoip.ts';
import { parseIp, type ParsedIp } from '../../core/monitoring/detectors/network.ts';

export class DenyListError extends Error {
  override readonly name = 'DenyListError';
}

/** One file's entries: by family and prefix length, the masked network as a bigint → the line as written. */
interface ParsedList {
  readonly name: string;
  readonly byPrefix: Map<string, Map<bigint, string>>;
  readonly prefixes: { readonly 4: number[]; readonly 6: number[] };
  readonly entries: number;
}

const bitsOf = (family: 4 | 6): number => (family === 4 ? 32 : 128);

function toBigInt(ip: ParsedIp): bigint {
  const parts = ip.family === 4 ? ip.octets : ip.groups;
  const width = ip.family === 4 ? 8n : 16n;
  return parts.reduce((value, part) => (value << width) | BigInt(part), 0n);
}

const mask = (value: bigint, family: 4 | 6, prefix: number): bigint => {
  const total = BigInt(bitsOf(family));
  return prefix === 0 ? 0n : (value >> (total - BigInt(prefix))) << (total - BigInt(prefix));
};

/** Parses one list: one address or CIDR per line, `#` starts a comment. Errors name FILE:LINE. */
export function parseDenyList(text: string, fileName: string): ParsedList {
  const byPrefix = new Map<string, Map<bigint, string>>();
  const prefixes: { 4: Set<number>; 6: Set<number> } = { 4: new Set(), 6: new Set() };
  const problems: string[] = [];
  let entries = 0;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = (raw.split('#')[0] ?? '').trim();
    if (line === '') return;
    const [address = '', prefixText, ...rest] = line.split('/');
    const ip = parseIp(address);
    const prefix = prefixText === undefined ? (ip ? bitsOf(ip.family) : 0) : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
    if (!ip || rest.length > 0 || Number.isNaN(prefix) || prefix > bitsOf(ip.family)) {
      problems.push(`${fileName}:${index + 1}: '${line.slice(0, 80)}' is not an IP address or CIDR network`);
      return;
    }
    const key = `${ip.family}/${prefix}`;
    const networks = byPrefix.get(key) ?? new Map<bigint, string>();
    byPrefix.set(key, networks);
    networks.set(mask(toBigInt(ip), ip.family, prefix), line);
    prefixes[ip.family].add(prefix);
    entries += 1;
  });
  if (problems.length > 0) throw new DenyListError(problems.slice(0, 20).join('\n'));
  // Longest prefix first, so the most specific entry is the one reported.
  const sorted = (set: Set<number>): number[] => [...set].sort((a, b) => b - a);
  return { name: basename(fileName), byPrefix, prefixes: { 4: sorted(prefixes[4]), 6: sorted(prefixes[6]) }, entries };
}

function matchIn(list: ParsedList, ip: ParsedIp): string | null {
  const value = toBigInt(ip);
  for (const prefix of list.prefixes[ip.family]) {
    const entry = list.byPrefix.get(`${ip.family}/${prefix}`)?.get(mask(value, ip.family, prefix));
    if (entry !== undefined) return entry;
  }
  return null;
}

export interface FileDenyList extends NetworkDenyList {
  /** Re-reads the files whose modification time or size changed; true if any list changed. */
  refresh(): Promise<boolean>;
  /** Re-reads every file (on SIGHUP). */
  reload(): Promise<void>;
  /** Entries per list name, for start-up notices and tests. */
  sizes(): Record<string, number>;
}

/**
 * Deny lists read from operator files (e.g. the Tor exit list, refreshed by a cron job). A lookup is
 * a few map probes, one per prefix length present, with no I/O. A reload parses the whole file
 * first and swaps it in only if every line is valid: a half-written or broken file never leaves a
 * partial list in force — the previous version stays, and the error is reported through `onError`.
 */
export async function createFileDenyList(options: { files: readonly string[]; onError?: (error: Error) => void }): Promise<FileDenyList> {
  const loaded = new Map<string, { list: ParsedList; mtimeMs: number; size: number }>();
  const load = async (file: string): Promise<void> => {
    let text: string;
    let info: { mtimeMs: number; size: number };
    try {
      [text, info] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    } catch (error) {
      throw new DenyListError(`cannot read deny list ${file}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    loaded.set(file, { list: parseDenyList(text, file), mtimeMs: info.mtimeMs, size: info.size });
  };
  for (const file of options.files) await load(file);
  const reloadOne = async (file: string): Promise<boolean> => {
    try {
      await load(file);
      return true;
    } catch (error) {
      options.onError?.(error instanceof Error ? error : new Error(String(error)));
      return false;
    }
  };
  return {
    match(ip) {
      const parsed = parseIp(ip);
      if (!parsed) return null;
      for (const { list } of loaded.values()) {
        const entry = matchIn(list, parsed);
        if (entry !== null) return { entry, list: list.name };
      }
      return null;
    },
    async refresh() {
      let changed = false;
      for (const file of options.files) {
        const current = loaded.get(file);
        const info = await stat(file).catch(() => null);
        if (!info || (current && current.mtimeMs === info.mtimeMs && current.size === info.size)) continue;
        if (await reloadOne(file)) changed = true;
      }
      return changed;
    },
    async reload() {
      for (const file of options.files) await reloadOne(file);
    },
    sizes() {
      return Object.fromEntries([...loaded.values()].map(({ list }) => [list.name, list.entries]));
    },
  };
}
