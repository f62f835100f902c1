import { afterEach, describe, expect, it } from 'vitest';
import { parseGetopt } from '../../src/config/getopt.js';
import { builtinDefaults, cliLayer, loadSettings, mergeLayers } from '../../src/config/layer.js';
import { CREATE_IMAGE_OPTIONS } from '../../src/config/options.js';
import { settingValues, type Settings } from '../../src/config/settings.js';
import { exitCodeFor } from '../../src/errors.js';
import type { ShellRunner } from '../../src/formats/xen-tools-conf.js';
import { makePaths } from '../../src/paths.js';
import { expectErrors, fakeHost, makeRoot } from '../helpers/config-fixtures.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const shell: ShellRunner = async (command) => ({ stdout: `[${command}]\n`, exitCode: 0, stderr: '' });

async function load(files: Record<string, string>, argv: string[], env: NodeJS.ProcessEnv = {}) {
  const { root, cleanup } = makeRoot(files);
  cleanups.push(cleanup);
  const cli = cliLayer(parseGetopt(argv, CREATE_IMAGE_OPTIONS));
  const result = await loadSettings({ cli, env, paths: makePaths(root), host: fakeHost, runShell: shell });
  return { ...result, values: settingValues(result.settings), root };
}

const CONF = 'etc/xen-tools/xen-tools.conf';

describe('builtinDefaults', () => {
  it("takes the host's codename and bootstrapper", () => {
    const values = settingValues(builtinDefaults(fakeHost));
    expect(values).toMatchObject({
      dist: 'bookworm',
      'install-method': 'mmdebstrap',
      arch: 'amd64',
      fs: 'ext4',
    });
    expect(values).toMatchObject({
      size: '4G',
      memory: '256M',
      swap: '512M',
      genpass_len: '20',
      hash_method: 'sha512',
    });
  });

  it('falls back to bookworm and debootstrap on an unknown host', () => {
    const host = { ...fakeHost, codename: 'hardy', commands: { debootstrap: true } };
    expect(settingValues(builtinDefaults(host))).toMatchObject({
      dist: 'bookworm',
      'install-method': 'debootstrap',
    });
  });
});

describe('layering', () => {
  const files = {
    [CONF]: 'size = 1G\nmemory = 128M\nswap = 128M\n',
    'etc/xen-tools/guest.conf': 'size = 2G\nmemory = 512M\n',
  };

  it('lets --config override xen-tools.conf, and the command line override both', async () => {
    const { values } = await load(files, ['--config=guest.conf', '--size=3G']);
    expect(values).toMatchObject({ size: '3G', memory: '512M', swap: '128M', config: 'guest.conf' });
  });

  it('names where each setting came from', async () => {
    const { settings, root } = await load(files, ['--config=guest.conf', '--size=3G']);
    expect(settings.size?.origin).toEqual({ kind: 'cli', flag: '--size' });
    expect(settings.memory?.origin).toEqual({
      kind: 'file',
      file: `${root}/etc/xen-tools/guest.conf`,
      line: 2,
    });
    expect(settings.swap?.origin).toEqual({ kind: 'file', file: `${root}/${CONF}`, line: 3 });
    expect(settings.fs?.origin).toEqual({ kind: 'default' });
  });

  it('reads config = FILE from xen-tools.conf too', async () => {
    const { values } = await load({ ...files, [CONF]: 'config = guest.conf\nsize = 1G\n' }, []);
    expect(values.size).toBe('2G');
  });

  it('reads an absolute --config under the root', async () => {
    const { values } = await load({ 'srv/g.conf': 'fs = xfs\n' }, ['--config=/srv/g.conf']);
    expect(values.fs).toBe('xfs');
  });

  it('reads --conf-file instead of the default file, and $XENKIT_CONF when no option', async () => {
    const both = { [CONF]: 'fs = ext3\n', 'alt.conf': 'fs = btrfs\n', 'env.conf': 'fs = xfs\n' };
    expect((await load(both, ['--conf-file=/alt.conf'])).values.fs).toBe('btrfs');
    expect((await load(both, [], { XENKIT_CONF: '/env.conf' })).values.fs).toBe('xfs');
    expect((await load(both, ['--conf-file=/alt.conf'], { XENKIT_CONF: '/env.conf' })).values.fs).toBe(
      'btrfs',
    );
    expect((await load(both, [])).values.fs).toBe('ext3');
  });

  it('is fine without any xen-tools.conf', async () => {
    const { values, confFile } = await load({}, []);
    expect(values.fs).toBe('ext4');
    expect(confFile).toBeUndefined();
  });

  it.each([
    [['--conf-file=/nope.conf'], {}, /^--conf-file "\/nope.conf" does not exist/],
    [[], { XENKIT_CONF: '/nope.conf' }, /^\$XENKIT_CONF "\/nope.conf" does not exist/],
    [
      ['--config=nope.conf'],
      {},
      /^--config "nope.conf" does not exist \(looked for .*\/etc\/xen-tools\/nope.conf\)/,
    ],
  ])('refuses a named file that is missing: %j %j', async (argv, env, message) => {
    const errors = await expectErrors(() => load({}, argv, env));
    expect(errors[0]?.message).toMatch(message);
    expect(errors[0]?.hint).toBeTruthy();
    expect(exitCodeFor(errors[0])).toBe(2);
  });

  it('runs backtick commands of conf files', async () => {
    const { values } = await load({ [CONF]: 'kernel = /boot/vmlinuz-`uname -r`\n' }, []);
    expect(values.kernel).toBe('/boot/vmlinuz-[uname -r]');
  });

  it('strips one pair of quotes and splits list keys', async () => {
    const { values } = await load(
      { [CONF]: 'passwd = \'1\'\nnameserver = 1.1.1.1 9.9.9.9,8.8.8.8\nrole-args = "-a -b"\n' },
      [],
    );
    expect(values).toMatchObject({
      passwd: '1',
      nameserver: ['1.1.1.1', '9.9.9.9', '8.8.8.8'],
      'role-args': '-a -b',
    });
  });

  it('warns about unknown and command-line-only keys, with a suggestion', async () => {
    const { warnings, values, root } = await load(
      { [CONF]: 'memroy = 1G\nroot = /x\nmirror_trixie = http://m/\n' },
      [],
    );
    expect(warnings).toEqual([
      `${root}/${CONF}:1: unknown setting "memroy" ignored (did you mean "memory"?)`,
      `${root}/${CONF}:2: "root" only works on the command line; ignored here`,
    ]);
    expect(values.mirror_trixie).toBe('http://m/');
  });
});

describe('choice groups', () => {
  const layer = (values: Record<string, Settings[string]['value']>, file = 'f'): Settings =>
    Object.fromEntries(
      Object.entries(values).map(([k, v]) => [k, { value: v, origin: { kind: 'file', file, line: 1 } }]),
    );

  it.each([
    [
      '--ip replaces dhcp from the conf',
      { dhcp: '1', gateway: '10.0.0.1' },
      { ip: ['10.0.0.5'] },
      { ip: ['10.0.0.5'], gateway: '10.0.0.1' },
      ['dhcp'],
    ],
    ['--dhcp replaces ip from the conf', { ip: ['10.0.0.5'] }, { dhcp: true }, { dhcp: true }, ['ip']],
    [
      '--dir replaces lvm and its thin pool',
      { lvm: 'vg0', lvm_thin: 'pool' },
      { dir: '/srv' },
      { dir: '/srv' },
      ['lvm', 'lvm_thin'],
    ],
    [
      'a thin pool alone keeps the lower lvm',
      { lvm: 'vg0' },
      { lvm_thin: 'pool' },
      { lvm: 'vg0', lvm_thin: 'pool' },
      [],
    ],
    [
      '--lvm keeps the thin pool of the conf',
      { lvm: 'vg0', lvm_thin: 'pool' },
      { lvm: 'vg1' },
      { lvm: 'vg1', lvm_thin: 'pool' },
      [],
    ],
    [
      '--image-dev replaces dir',
      { dir: '/srv' },
      { 'image-dev': '/dev/sdb', 'swap-dev': '/dev/sdc' },
      { 'image-dev': '/dev/sdb' },
      ['dir'],
    ],
    [
      '--password-file replaces passwd',
      { passwd: '1' },
      { 'password-file': '/pw' },
      { 'password-file': '/pw' },
      ['passwd'],
    ],
    [
      'both in one layer stay for validation',
      {},
      { dhcp: true, ip: ['10.0.0.5'] },
      { dhcp: true, ip: ['10.0.0.5'] },
      [],
    ],
  ])('%s', (_name, lower, upper, present, absent) => {
    const values = settingValues(mergeLayers([layer(lower, 'conf'), layer(upper, 'cli')]));
    expect(values).toMatchObject(present);
    for (const key of absent) expect(values[key]).toBeUndefined();
  });
});
