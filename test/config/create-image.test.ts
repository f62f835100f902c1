import { afterEach, describe, expect, it } from 'vitest';
import { renderDumpConfig, resolveCreateImage } from '../../src/config/create-image.js';
import { confToRecord, parseXenToolsConf, type ShellRunner } from '../../src/formats/xen-tools-conf.js';
import { fakeHost, listTree, makeRoot } from '../helpers/config-fixtures.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function scratch(files: Record<string, string> = {}): string {
  const { root, cleanup } = makeRoot(files);
  cleanups.push(cleanup);
  return root;
}

const shell: ShellRunner = async () => ({ stdout: 'x\n', exitCode: 0, stderr: '' });
const deps = { host: fakeHost, runShell: shell };
const BROKEN = { 'etc/xen-tools/xen-tools.conf': 'this is not a conf\n' };

describe('resolveCreateImage', () => {
  it('answers --help and --version without reading any conf', async () => {
    const root = scratch(BROKEN);
    for (const flag of ['--help', '--manual', '--version']) {
      const request = await resolveCreateImage(['--root', root, flag, '--size=4X'], {}, deps);
      expect(request.spec).toBeUndefined();
      expect(request.flags.help || request.flags.version).toBe(true);
    }
  });

  it('dumps merged settings without validating them, and hides the password', async () => {
    const root = scratch({ 'etc/xen-tools/xen-tools.conf': 'size = 4X\nmemory = 1G\n' });
    const request = await resolveCreateImage(
      ['--root', root, '--dumpconfig', '--password=s3cret', '--ip=10.0.0.1'],
      {},
      deps,
    );
    expect(request.spec).toBeUndefined();
    expect(request.flags.dumpConfig).toBe(true);
    expect(request.settings).toMatchObject({ size: '4X', memory: '1G', ip: ['10.0.0.1'] });
    expect(request.settings.password).toBeUndefined();
    expect(renderDumpConfig(request.settings)).not.toContain('s3cret');
  });

  it('renders --dumpconfig as a conf file that reads back to the same settings', async () => {
    const root = scratch({ 'etc/xen-tools/xen-tools.conf': 'lvm = vg0\nnameserver = 1.1.1.1 9.9.9.9\n' });
    const request = await resolveCreateImage(
      ['--root', root, '--dumpconfig', '--hostname=a', '--dhcp', '--boot'],
      {},
      deps,
    );
    const text = renderDumpConfig(request.settings);
    expect(text).not.toMatch(/^(root|dumpconfig|json) =/m);
    const back = confToRecord(await parseXenToolsConf(text, 'dump.conf', { runShell: shell }));
    expect(back).toMatchObject({
      lvm: 'vg0',
      nameserver: '1.1.1.1 9.9.9.9',
      hostname: 'a',
      dhcp: '1',
      boot: '1',
      fs: 'ext4',
    });
  });

  it('takes the root from $XENKIT_ROOT and steers flags from the command line', async () => {
    const root = scratch({ 'etc/xen-tools/xen-tools.conf': 'dir = /srv/xen\ndhcp = 1\nverbose = 1\n' });
    const before = listTree(root);
    const request = await resolveCreateImage(
      ['--hostname=web1', '--dry-run', '--json', '--quiet'],
      { XENKIT_ROOT: root },
      deps,
    );
    expect(request.paths.root).toBe(root);
    expect(request.flags).toMatchObject({
      dryRun: true,
      json: true,
      quiet: true,
      verbose: true,
      help: false,
    });
    expect(request.spec?.storage).toMatchObject({ kind: 'file', dir: `${root}/srv/xen` });
    expect(request.spec?.network.mode).toBe('dhcp');
    expect(listTree(root)).toEqual(before);
  });

  it('follows the 2009 lab notes: their conf, then --hostname and --ip', async () => {
    const { readFileSync } = await import('node:fs');
    const seed = readFileSync(new URL('../fixtures/xen-tools-conf/seed-2009.conf', import.meta.url), 'utf8')
      .replace('dist = hardy', 'dist = bookworm')
      .replace(/= x\.x\.x\.x/g, (_m) => '= 192.168.1.1')
      .replace('netmask = 192.168.1.1', 'netmask = 255.255.255.0')
      .replace('broadcast = 192.168.1.1', 'broadcast = 192.168.1.255');
    const root = scratch({ 'etc/xen-tools/xen-tools.conf': seed });
    const request = await resolveCreateImage(
      ['--root', root, '--hostname=test2', '--ip=192.168.1.20'],
      {},
      deps,
    );
    const spec = request.spec;
    expect(spec?.storage).toMatchObject({
      kind: 'file',
      guestDir: `${root}/home/xen/domains/test2`,
      allocation: 'sparse',
    });
    expect(spec?.disk).toMatchObject({ size: 1024 ** 3, fs: 'ext3' });
    expect(spec?.memory).toBe(128 * 1024 ** 2);
    expect(spec?.network).toMatchObject({
      mode: 'static',
      addresses: [{ address: '192.168.1.20', prefix: 24 }],
      gateway: '192.168.1.1',
      broadcast: '192.168.1.255',
    });
    expect(spec?.accounts.rootPassword).toEqual({ kind: 'prompt' });
    expect(spec?.install).toMatchObject({ method: 'debootstrap', cache: true });
    // The 2.6.24 kernel of the notes is ignored: the guest boots its own.
    expect(spec?.boot.useGuestKernel).toBe(true);
    expect(spec?.output.cfgPath).toBe(`${root}/etc/xen/test2.cfg`);
  });
});
