/**
 * Every option of xen-tools 4.9.2's xen-create-image (its own GetOptions list) has an effect here,
 * or is refused: one row per option, each checking what the option changes in the spec, the plan,
 * the domain config or the command flags, against the same run without it. A new option in
 * xen-tools' list without a row fails the first test, so no option can go silently unhandled.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveCreateImage, type CreateImageRequest } from '../../src/config/create-image.js';
import { XenkitError } from '../../src/errors.js';
import type { ShellRunner } from '../../src/formats/xen-tools-conf.js';
import { renderGuestCfg } from '../../src/formats/xl-cfg-render.js';
import { buildCreateImagePlan } from '../../src/images/create-image-plan.js';
import type { GuestSpec } from '../../src/model/guest-spec.js';
import { planToJSON } from '../../src/plan/plan.js';
import { errorsOf, fakeHost, makeRoot } from '../helpers/config-fixtures.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURE = path.join(HERE, '../fixtures/xen-tools-getopt/xen-create-image-4.9.2.txt');
const XEN_TOOLS = '/usr/bin/xen-create-image';

/** Option names of a GetOptions spec list (`copyhosts!` -> copyhosts, `ip=s@` -> ip). */
function optionNames(specs: readonly string[]): string[] {
  return specs.map((spec) => spec.replace(/[=:!].*$/, '').replace(/!$/, ''));
}

function readFixture(): string[] {
  return fs
    .readFileSync(FIXTURE, 'utf8')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** The GetOptions specs in the installed xen-create-image (the Perl source, read as text). */
function readInstalledSpecs(): string[] {
  const text = fs.readFileSync(XEN_TOOLS, 'utf8');
  const block = text.slice(text.indexOf('!GetOptions('), text.indexOf('"version",') + 20);
  return [...block.matchAll(/^\s*"([^"]+)"\s*,/gm)].map((m) => m[1]!);
}

const shell: ShellRunner = async () => ({ stdout: 'x\n', exitCode: 0, stderr: '' });

interface Outcome {
  request?: CreateImageRequest;
  spec?: GuestSpec;
  /** The dry-run plan as JSON text (steps, actions, argv). */
  plan: string;
  stepIds: string[];
  cfg: string;
  errors: XenkitError[];
  warnings: string[];
}

let root: string;
let cleanup: () => void;

beforeAll(() => {
  ({ root, cleanup } = makeRoot({
    'etc/xen-tools/': '',
    'etc/xen-tools/role.d/myrole': '#!/bin/sh\n',
    'srv/roles/other': '#!/bin/sh\n',
    'etc/xen-tools/hooks.d/50-mine': '#!/bin/sh\n',
    'etc/xen-tools/my.conf': 'memory = 333M\n',
    'etc/xen-tools/my.tmpl': "name = '{$hostname}'\n",
    'etc/xen-tools/partitions.d/sample':
      '[root]\nsize=1G\ntype=ext4\nmountpoint=/\n[home]\nsize=512M\ntype=xfs\nmountpoint=/home\noptions=nodev\n[swap]\nsize=128M\ntype=swap\n',
    'boot/vmlinuz-host': 'kernel',
    'boot/initrd-host': 'initrd',
    'lib/modules/6.1.0-host/modules.dep': '',
    'srv/keyring.gpg': 'k',
    'srv/source/bin/sh': '',
    'srv/cache/': '',
    'srv/cfgs/': '',
    'dev/xvdz': '',
    'dev/xvdy': '',
    'etc/xen/taken.cfg': "name = 'taken'\n",
  }));
  for (const f of ['etc/xen-tools/role.d/myrole', 'srv/roles/other', 'etc/xen-tools/hooks.d/50-mine'])
    fs.chmodSync(path.join(root, f), 0o755);
});
afterAll(() => cleanup());

/** Resolves and plans `web1` with `args` (plus --dir and --dhcp unless the row picks its own). */
async function run(args: string[]): Promise<Outcome> {
  const has = (re: RegExp): boolean => args.some((a) => re.test(a));
  const argv = [
    '--root',
    root,
    ...(has(/^--(hostname)=/) ? [] : ['--hostname=web1']),
    ...(has(/^--(dir|lvm|image-dev|evms|zpool)=/) ? [] : ['--dir=/srv/xen']),
    ...(has(/^--(ip|dhcp|nodhcp)\b/) ? [] : ['--dhcp']),
    ...args,
  ];
  try {
    const request = await resolveCreateImage(argv, {}, { host: fakeHost, runShell: shell });
    const spec = request.spec;
    if (!spec) return { request, plan: '', stepIds: [], cfg: '', errors: [], warnings: request.warnings };
    const { plan } = buildCreateImagePlan({ spec, paths: request.paths, passwordHash: undefined });
    return {
      request,
      spec,
      plan: JSON.stringify(planToJSON(plan)),
      stepIds: plan.steps.map((s) => s.id),
      cfg: spec.output.template ? '' : renderGuestCfg(spec),
      errors: [],
      warnings: request.warnings,
    };
  } catch (error) {
    return { plan: '', stepIds: [], cfg: '', errors: errorsOf(error), warnings: [] };
  }
}

const ok = (o: Outcome): GuestSpec => {
  expect(o.errors.map((e) => e.message)).toEqual([]);
  expect(o.spec).toBeDefined();
  return o.spec!;
};
const refused = (o: Outcome, code: string, words: RegExp): void => {
  const error = o.errors.find((e) => e.code === code);
  expect(error?.message, o.errors.map((e) => `${e.code} ${e.message}`).join('; ')).toMatch(words);
  expect(error?.kind).toBe('usage');
  expect(error?.hint).toBeTruthy();
};
const cfgValue = (cfg: string, key: string): string | undefined =>
  new RegExp(`^${key}\\s*=\\s*(.*)$`, 'm').exec(cfg)?.[1];

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

type Check = (o: (args: string[]) => Promise<Outcome>) => Promise<void>;

/** One row per xen-tools option: what it does here, checked. */
const EFFECTS: Record<string, Check> = {
  dist: async (r) => {
    const o = await r(['--dist=bullseye']);
    expect(ok(o).install.dist).toBe('bullseye');
    expect(o.plan).toContain('bullseye');
  },
  size: async (r) => expect(ok(await r(['--size=3G'])).disk.size).toBe(3 * GIB),
  swap: async (r) => expect(ok(await r(['--swap=300M'])).swap?.size).toBe(300 * MIB),
  noswap: async (r) => {
    const o = await r(['--noswap']);
    expect(ok(o).swap).toBeUndefined();
    expect(o.cfg).not.toContain('swap.img');
  },
  image: async (r) => {
    const s = ok(await r(['--image=full']));
    expect(s.storage.kind === 'file' && s.storage.allocation).toBe('full');
  },
  memory: async (r) => expect(cfgValue((await r(['--memory=300M'])).cfg, 'memory')).toBe("'300'"),
  maxmem: async (r) => expect(cfgValue((await r(['--maxmem=512M'])).cfg, 'maxmem')).toBe("'512'"),
  vcpus: async (r) => expect(cfgValue((await r(['--vcpus=2'])).cfg, 'vcpus')).toBe("'2'"),
  dir: async (r) =>
    expect((await r(['--dir=/srv/other'])).cfg).toContain(`${root}/srv/other/domains/web1/disk.img`),
  evms: async (r) => refused(await r(['--evms=c1']), 'E_OBSOLETE', /evms/),
  kernel: async (r) => {
    const o = await r(['--kernel=/boot/vmlinuz-host']);
    expect(cfgValue(o.cfg, 'kernel')).toBe(`'${root}/boot/vmlinuz-host'`);
    refused(await r(['--kernel=/boot/vmlinuz-host', '--type=hvm']), 'E_BOOT', /hvm/);
  },
  initrd: async (r) =>
    expect(
      cfgValue((await r(['--kernel=/boot/vmlinuz-host', '--initrd=/boot/initrd-host'])).cfg, 'ramdisk'),
    ).toBe(`'${root}/boot/initrd-host'`),
  mirror: async (r) =>
    expect((await r(['--mirror=http://mirror.example/debian'])).plan).toContain(
      'http://mirror.example/debian',
    ),
  keyring: async (r) =>
    expect((await r(['--keyring=/srv/keyring.gpg'])).plan).toContain(`--keyring=${root}/srv/keyring.gpg`),
  apt_proxy: async (r) =>
    expect((await r(['--apt_proxy=http://proxy.example:3142/'])).plan).toContain(
      '/etc/apt/apt.conf.d/01proxy',
    ),
  modules: async (r) => {
    const o = await r(['--kernel=/boot/vmlinuz-host', '--modules=/lib/modules/6.1.0-host']);
    expect(o.plan).toContain(`"${root}/lib/modules/6.1.0-host","<guest>/lib/modules/6.1.0-host"`);
    refused(await r(['--modules=/lib/modules/6.1.0-host']), 'E_BOOT', /modules/);
  },
  lvm: async (r) => expect((await r(['--lvm=vg0'])).cfg).toContain('phy:/dev/vg0/web1-disk'),
  zpool: async (r) => refused(await r(['--zpool=tank']), 'E_OBSOLETE', /zpool/),
  'image-dev': async (r) =>
    expect((await r(['--image-dev=/dev/xvdz', '--noswap'])).cfg).toContain(`phy:${root}/dev/xvdz`),
  'swap-dev': async (r) =>
    expect((await r(['--image-dev=/dev/xvdz', '--swap-dev=/dev/xvdy'])).cfg).toContain(
      `phy:${root}/dev/xvdy`,
    ),
  serial_device: async (r) => expect((await r(['--serial_device=ttyS0'])).plan).toContain('ttyS0'),
  disk_device: async (r) => expect((await r(['--disk_device=sda'])).cfg).toMatch(/disk\.img,sda/),
  nohosts: async (r) => {
    expect((await r(['--ip=10.0.0.5'])).stepIds).toContain('host.hosts');
    expect((await r(['--ip=10.0.0.5', '--nohosts'])).stepIds).not.toContain('host.hosts');
  },
  'no-hosts': async (r) =>
    expect((await r(['--ip=10.0.0.5', '--no-hosts'])).stepIds).not.toContain('host.hosts'),
  copyhosts: async (r) => {
    const base = await r([]);
    const o = await r(['--copyhosts']);
    expect(ok(o).copyHosts).toBe(true);
    expect(o.plan).not.toBe(base.plan);
  },
  'copy-hosts': async (r) => expect(ok(await r(['--copy-hosts'])).copyHosts).toBe(true),
  dhcp: async (r) => expect(cfgValue((await r(['--dhcp'])).cfg, 'dhcp')).toBe("'dhcp'"),
  bridge: async (r) => expect((await r(['--bridge=br0'])).cfg).toContain('bridge=br0'),
  gateway: async (r) =>
    expect((await r(['--ip=10.0.0.5', '--gateway=10.0.0.1'])).plan).toContain('Gateway=10.0.0.1'),
  hostname: async (r) => expect(cfgValue((await r(['--hostname=other'])).cfg, 'name')).toBe("'other'"),
  ip: async (r) => expect((await r(['--ip=10.0.0.5'])).cfg).toContain('ip=10.0.0.5'),
  mac: async (r) => expect((await r(['--mac=00:16:3e:aa:bb:cc'])).cfg).toContain('mac=00:16:3E:AA:BB:CC'),
  randommac: async (r) => expect(ok(await r(['--randommac'])).network.macSource).toBe('random'),
  netmask: async (r) =>
    expect(ok(await r(['--ip=10.0.0.5', '--netmask=255.255.0.0'])).network.addresses[0]?.prefix).toBe(16),
  broadcast: async (r) =>
    expect(ok(await r(['--ip=10.0.0.5', '--netmask=24', '--broadcast=10.0.0.255'])).network.broadcast).toBe(
      '10.0.0.255',
    ),
  nameserver: async (r) =>
    expect((await r(['--ip=10.0.0.5', '--nameserver=10.0.0.53'])).plan).toContain('10.0.0.53'),
  vifname: async (r) => expect((await r(['--vifname=vweb1'])).cfg).toContain('vifname=vweb1'),
  p2p: async (r) => expect((await r(['--ip=10.0.0.5', '--p2p=10.0.0.9'])).plan).toContain('Peer=10.0.0.9/32'),
  vlan: async (r) => {
    const o = await r(['--bridge=ovs0', '--vlan=10']);
    expect(o.cfg).toContain('bridge=ovs0.10,script=vif-openvswitch');
    expect(o.plan).toContain('the QEMU driver refuses such a vif');
    refused(await r(['--vlan=10']), 'E_VLAN', /--bridge/);
  },
  'install-method': async (r) =>
    expect((await r(['--install-method=debootstrap'])).plan).toMatch(/"argv":\["debootstrap"/),
  'install-source': async (r) =>
    expect((await r(['--install-method=copy', '--install-source=/srv/source'])).plan).toContain(
      `"${root}/srv/source"`,
    ),
  'debootstrap-cmd': async (r) => {
    const o = await r(['--debootstrap-cmd=/usr/sbin/debootstrap']);
    expect(ok(o).install.method).toBe('debootstrap');
    expect(o.plan).toMatch(/"argv":\["\/usr\/sbin\/debootstrap"/);
    refused(
      await r(['--debootstrap-cmd=debootstrap', '--install-method=mmdebstrap']),
      'E_CONFLICT',
      /debootstrap-cmd/,
    );
  },
  accounts: async (r) => {
    const o = await r(['--accounts']);
    expect(ok(o).accounts.copyAccounts).toBe(true);
    expect(o.plan).not.toBe((await r([])).plan);
  },
  admins: async (r) => expect((await r(['--admins=alice'])).plan).toContain('alice'),
  arch: async (r) => expect((await r(['--arch=arm64'])).plan).toContain('--architectures=arm64'),
  fs: async (r) => expect((await r(['--fs=xfs'])).plan).toContain('mkfs.xfs'),
  boot: async (r) => {
    expect(ok(await r(['--boot'])).startAfter).toBe(true);
    expect(ok(await r(['--noboot'])).startAfter).toBe(false);
  },
  cache: async (r) => {
    expect(ok(await r(['--cache=no'])).install.cache).toBe(false);
    expect((await r(['--cache=no'])).plan).not.toContain('sync-in');
    expect((await r(['--cache=yes'])).plan).toContain('sync-in');
  },
  cachedir: async (r) => expect((await r(['--cachedir=/srv/cache'])).plan).toContain(`${root}/srv/cache`),
  config: async (r) => expect(cfgValue((await r(['--config=my.conf'])).cfg, 'memory')).toBe("'333'"),
  ide: async (r) => expect((await r(['--ide'])).cfg).toMatch(/disk\.img,hda/),
  scsi: async (r) => expect((await r(['--scsi'])).cfg).toMatch(/disk\.img,sda/),
  install: async (r) => {
    expect((await r([])).stepIds).toContain('install.tree');
    expect((await r(['--install=0'])).stepIds).not.toContain('install.tree');
  },
  hooks: async (r) => {
    expect((await r([])).stepIds.length).toBeGreaterThan(0);
    expect((await r([])).plan).toContain('hooks.d in name order');
    expect((await r(['--hooks=0'])).plan).not.toContain('hooks.d in name order');
  },
  pygrub: async (r) => {
    expect(cfgValue((await r(['--pygrub'])).cfg, 'bootloader')).toBe("'pygrub'");
    expect(
      cfgValue((await r(['--nopygrub', '--kernel=/boot/vmlinuz-host'])).cfg, 'bootloader'),
    ).toBeUndefined();
  },
  passwd: async (r) => expect(ok(await r(['--passwd'])).accounts.rootPassword.kind).toBe('prompt'),
  genpass: async (r) => expect(ok(await r(['--genpass=0'])).accounts.rootPassword.kind).toBe('none'),
  'genpass-len': async (r) =>
    expect(ok(await r(['--genpass-len=30'])).accounts.rootPassword).toEqual({ kind: 'generate', length: 30 }),
  genpass_len: async (r) =>
    expect(ok(await r(['--genpass_len=31'])).accounts.rootPassword).toEqual({ kind: 'generate', length: 31 }),
  password: async (r) => {
    const o = await r(['--password=not-a-secret-1']);
    expect(ok(o).accounts.rootPassword).toEqual({ kind: 'value', value: 'not-a-secret-1' });
    expect(o.warnings.join('\n')).toMatch(/--password puts the password where other users can see it/);
  },
  hash_method: async (r) => expect(ok(await r(['--hash_method=sha256'])).accounts.hashMethod).toBe('sha256'),
  partitions: async (r) => {
    const o = await r(['--partitions=sample']);
    expect(ok(o).volumes).toEqual([
      expect.objectContaining({ name: 'home', fs: 'xfs', mountpoint: '/home', device: 'xvda3' }),
    ]);
    expect(o.stepIds).toContain('storage.volume.home');
    expect(o.cfg).toContain(`file:${root}/srv/xen/domains/web1/home.img,xvda3,w`);
  },
  role: async (r) =>
    expect((await r(['--role=myrole'])).plan).toContain(
      `"argv":["${root}/etc/xen-tools/role.d/myrole","<guest>"]`,
    ),
  'role-args': async (r) =>
    expect((await r(['--role=myrole', '--role-args=a b'])).plan).toContain(
      `role.d/myrole","<guest>","a","b"]`,
    ),
  finalrole: async (r) => {
    const o = await r(['--finalrole=myrole']);
    const at = (id: string): number => o.stepIds.indexOf(id);
    expect(at('customize.finalrole')).toBeGreaterThan(at('config.domain'));
    expect(at('customize.finalrole')).toBeLessThan(at('storage.disk'));
    expect(at('config.domain')).toBeGreaterThan(-1);
  },
  roledir: async (r) =>
    expect((await r(['--roledir=/srv/roles', '--role=other'])).plan).toContain(`"${root}/srv/roles/other"`),
  force: async (r) => {
    refused(await r(['--hostname=taken']), 'E_EXISTS', /taken/);
    expect(ok(await r(['--hostname=taken', '--force'])).force).toBe(true);
  },
  'no-xen-ok': async (r) => {
    const o = await r(['--no-xen-ok']);
    ok(o);
    expect(o.warnings).toContain('--no-xen-ok is deprecated and ignored');
  },
  keep: async (r) => {
    refused(await r(['--keep']), 'E_UNSUPPORTED', /keep/);
    ok(await r(['--nokeep']));
  },
  template: async (r) =>
    expect(ok(await r(['--template=my.tmpl'])).output.template).toBe(`${root}/etc/xen-tools/my.tmpl`),
  output: async (r) => expect((await r(['--output=/srv/cfgs'])).plan).toContain(`${root}/srv/cfgs/web1.cfg`),
  extension: async (r) =>
    expect(ok(await r(['--extension=.xl'])).output.cfgPath).toBe(`${root}/etc/xen/web1.xl`),
  dontformat: async (r) => {
    const o = await r(['--image-dev=/dev/xvdz', '--noswap', '--dontformat']);
    expect(ok(o).disk.format).toBe(false);
    expect(o.plan).not.toBe((await r(['--image-dev=/dev/xvdz', '--noswap'])).plan);
  },
  lvm_thin: async (r) => expect((await r(['--lvm=vg0', '--lvm_thin=pool0'])).plan).toContain('vg0/pool0'),
  debug: async (r) => expect((await r(['--debug'])).request?.flags.dumpConfig).toBe(true),
  help: async (r) => expect((await r(['--help'])).request?.flags.help).toBe(true),
  manual: async (r) => expect((await r(['--manual'])).request?.flags.help).toBe(true),
  dumpconfig: async (r) => expect((await r(['--dumpconfig'])).request?.flags.dumpConfig).toBe(true),
  verbose: async (r) => {
    expect((await r(['--verbose'])).request?.flags.verbose).toBe(true);
    expect((await r(['--noverbose'])).request?.flags.verbose).toBe(false);
  },
  version: async (r) => expect((await r(['--version'])).request?.flags.version).toBe(true),
};

describe("xen-tools 4.9.2's options", () => {
  it('the list is the one in xen-create-image itself', () => {
    const fixture = readFixture();
    expect(fixture.length).toBe(80);
    if (fs.existsSync(XEN_TOOLS)) expect(readInstalledSpecs()).toEqual(fixture);
  });

  it('every option has a row in the table (a new one must say what it does)', () => {
    expect(Object.keys(EFFECTS).sort()).toEqual([...new Set(optionNames(readFixture()))].sort());
  });

  it.each(optionNames(readFixture()))('--%s does what it says or is refused', async (name) => {
    await EFFECTS[name]!(run);
  });
});
