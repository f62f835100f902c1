import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  claimIp,
  findFreeIp,
  findUsedAddresses,
  parseIpsFile,
  releaseIp,
  usedStateFile,
} from '../../src/config/ips-file.js';
import { exitCodeFor, ValidationErrors } from '../../src/errors.js';
import { makePaths } from '../../src/paths.js';
import { makeRoot } from '../helpers/config-fixtures.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function scratch(files: Record<string, string>) {
  const { root, cleanup } = makeRoot(files);
  cleanups.push(cleanup);
  const paths = makePaths(root);
  return { root, paths, ipfile: path.join(root, 'etc/xen-tools/ips.txt') };
}

describe('parseIpsFile', () => {
  it("reads xen-tools' format, its used marks, comments and CIDR ranges", () => {
    const entries = parseIpsFile(
      '192.168.1.100\n192.168.1.101: used\n\n# spare\n10.0.0.0/30 # two hosts\n2001:db8::/126\n',
      'ips.txt',
    );
    expect(entries.map((e) => [e.line, e.isMarkedUsed, e.prefix, e.last - e.first + 1n])).toEqual([
      [1, false, undefined, 1n],
      [2, true, undefined, 1n],
      [5, false, 30, 2n],
      [6, false, 126, 4n],
    ]);
  });

  it('names file and line of every bad line', () => {
    const error = (() => {
      try {
        parseIpsFile('10.0.0.1\nnope\n10.0.0.0/40\n', 'ips.txt');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ValidationErrors);
    expect(exitCodeFor(error)).toBe(2);
    expect((error as ValidationErrors).errors.map((e) => e.message)).toEqual([
      'ips.txt:2: "nope" is not an address or range',
      'ips.txt:3: "10.0.0.0/40" is not an address or range',
    ]);
  });
});

describe('the address pool', () => {
  const files = {
    'etc/xen-tools/ips.txt': '10.0.0.1: used\n10.0.0.2\n10.0.0.3\n10.0.1.0/29\n',
    'etc/xen/a.cfg': "vif = [ 'ip=10.0.0.2,mac=00:16:3E:00:00:01', 'ip=10.0.1.1' ]\n",
    'etc/xen/notes.txt': "vif = [ 'ip=10.0.0.3' ]\n",
  };

  it('finds addresses named by domain configs', async () => {
    const { paths } = scratch(files);
    expect([...(await findUsedAddresses(paths))].sort()).toEqual(['10.0.0.2', '10.0.1.1']);
  });

  it('hands out the first free address, then the next, and takes one back', async () => {
    const { paths, ipfile } = scratch(files);
    expect(await findFreeIp(paths, ipfile)).toEqual({ address: '10.0.0.3', prefix: undefined, file: ipfile });
    expect(await claimIp(paths, ipfile, 'web1')).toEqual({
      address: '10.0.0.3',
      prefix: undefined,
      file: ipfile,
    });
    expect(await claimIp(paths, ipfile, 'web2')).toEqual({ address: '10.0.1.2', prefix: 29, file: ipfile });
    expect(readFileSync(usedStateFile(paths), 'utf8')).toBe('10.0.0.3 web1\n10.0.1.2 web2\n');
    await releaseIp(paths, '10.0.0.3');
    expect(readFileSync(usedStateFile(paths), 'utf8')).toBe('10.0.1.2 web2\n');
    expect(await findFreeIp(paths, ipfile)).toEqual({ address: '10.0.0.3', prefix: undefined, file: ipfile });
    // The admin's file is never rewritten, and the lock is gone.
    expect(readFileSync(ipfile, 'utf8')).toBe(files['etc/xen-tools/ips.txt']);
    expect(existsSync(path.join(paths.lockDir, 'ips.lock'))).toBe(false);
  });

  it('gives concurrent claims different addresses', async () => {
    const { paths, ipfile } = scratch({ 'etc/xen-tools/ips.txt': '10.0.2.0/28\n' });
    const claimed = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((name) => claimIp(paths, ipfile, name)));
    expect(new Set(claimed.map((c) => c.address)).size).toBe(5);
  });

  it('claims the address validation showed while it is free, and the next free one once it is taken', async () => {
    const { paths, ipfile } = scratch({ 'etc/xen-tools/ips.txt': '10.0.2.0/29\n' });
    expect((await claimIp(paths, ipfile, 'a', undefined, '10.0.2.4')).address).toBe('10.0.2.4');
    expect((await claimIp(paths, ipfile, 'b', undefined, '10.0.2.4')).address).toBe('10.0.2.1');
    // Not in the pool: never handed out because it was asked for.
    expect((await claimIp(paths, ipfile, 'c', undefined, '10.9.9.9')).address).toBe('10.0.2.2');
  });

  it('says so when the pool is empty', async () => {
    const { paths, ipfile } = scratch({ 'etc/xen-tools/ips.txt': '10.0.0.1: used\n' });
    expect(await findFreeIp(paths, ipfile)).toBeUndefined();
    await expect(claimIp(paths, ipfile, 'x')).rejects.toThrow(/no free address left/);
  });
});
