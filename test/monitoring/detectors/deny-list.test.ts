import { mkdtemp, rm, writeFile, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileDenyList, DenyListError, parseDenyList } from '../../../src/adapters/geoip/deny-list-files.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'latchkey-deny-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

/** Writes a file and moves its modification time on, so a change within one clock tick is still seen. */
async function writeList(path: string, text: string, mtimeSeconds: number): Promise<void> {
  await writeFile(path, text);
  await utimes(path, mtimeSeconds, mtimeSeconds);
}

describe('deny lists from files', () => {
  it('matches single addresses and CIDR networks of both families, reporting the most specific entry', async () => {
    const path = join(dir, 'tor-exits.txt');
    await writeList(path, ['# Tor exit nodes, fetched nightly', '', '203.0.113.9', '198.51.100.0/24   # whole range', '198.51.100.128/25', '2001:db8:abcd::/48', '2001:db8::7'].join('\n'), 1_000);
    const list = await createFileDenyList({ files: [path] });
    expect(list.match('203.0.113.9')).toEqual({ entry: '203.0.113.9', list: 'tor-exits.txt' });
    expect(list.match('203.0.113.10')).toBeNull();
    expect(list.match('198.51.100.3')).toEqual({ entry: '198.51.100.0/24', list: 'tor-exits.txt' });
    expect(list.match('198.51.100.200')).toEqual({ entry: '198.51.100.128/25', list: 'tor-exits.txt' });
    expect(list.match('::ffff:198.51.100.3')?.entry).toBe('198.51.100.0/24');
    expect(list.match('2001:db8:abcd:ffff::1')?.entry).toBe('2001:db8:abcd::/48');
    expect(list.match('2001:db8:abce::1')).toBeNull();
    expect(list.match('2001:0db8:0000:0000:0000:0000:0000:0007')?.entry).toBe('2001:db8::7');
    expect(list.match('not an address')).toBeNull();
    expect(list.sizes()).toEqual({ 'tor-exits.txt': 5 });
  });

  it('refuses a malformed list at start, naming the file and line', () => {
    expect(() => parseDenyList('192.0.2.1\n192.0.2.300\n10.0.0.0/33\nexample.org\n', '/etc/latchkey/deny.txt')).toThrow(DenyListError);
    expect(() => parseDenyList('192.0.2.1\n192.0.2.300\n', '/etc/latchkey/deny.txt')).toThrow("/etc/latchkey/deny.txt:2: '192.0.2.300' is not an IP address or CIDR network");
  });

  it('reloads a list when its file changes, and keeps the previous version when the new one is broken', async () => {
    const path = join(dir, 'blocked.txt');
    await writeList(path, '192.0.2.1\n', 1_000);
    const errors: string[] = [];
    const list = await createFileDenyList({ files: [path], onError: (error) => errors.push(error.message) });
    expect(await list.refresh()).toBe(false);
    expect(list.match('192.0.2.1')).not.toBeNull();

    await writeList(path, '192.0.2.2\n', 2_000);
    expect(await list.refresh()).toBe(true);
    expect(list.match('192.0.2.1')).toBeNull();
    expect(list.match('192.0.2.2')).toEqual({ entry: '192.0.2.2', list: 'blocked.txt' });

    await writeList(path, '192.0.2.3\nhalf-writ', 3_000);
    expect(await list.refresh()).toBe(false);
    expect(errors).toEqual([`${path}:2: 'half-writ' is not an IP address or CIDR network`]);
    expect(list.match('192.0.2.2')).not.toBeNull();
    expect(list.match('192.0.2.3')).toBeNull();

    // A forced reload (SIGHUP) reads the file even when its time stamp did not move.
    await writeList(path, '192.0.2.4\n', 3_000);
    await list.reload();
    expect(list.match('192.0.2.4')).not.toBeNull();
  });
});
