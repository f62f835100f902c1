/** Test helpers for the customization: a spec factory, a small fake root tree, a recording context. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LogEvent } from '../../src/log/events.js';
import { silentReporter } from '../../src/log/reporter.js';
import type { GuestSpec, InstallSpec, NetworkSpec } from '../../src/model/guest-spec.js';
import type { StepContext } from '../../src/plan/plan.js';
import { UndoStack } from '../../src/plan/undo-stack.js';

const GIB = 1024 ** 3;

/**
 * A bookworm InstallSpec with every field set, its extraPackages the kernel the settings choose
 * for amd64 (as validation puts it there); override what a test is about.
 */
export function makeInstallSpec(overrides: Partial<InstallSpec> = {}): InstallSpec {
  return {
    method: 'mmdebstrap',
    source: undefined,
    dist: 'bookworm',
    arch: 'amd64',
    mirror: 'http://deb.debian.org/debian',
    securityMirror: undefined,
    keyring: undefined,
    aptProxy: undefined,
    cache: false,
    cacheDir: '/var/cache/xenkit',
    debootstrapCommand: undefined,
    extraPackages: ['linux-image-cloud-amd64'],
    enabled: true,
    ...overrides,
  };
}

/** A complete, valid spec for guest web1; override what a test is about. */
export function makeSpec(overrides: Partial<GuestSpec> = {}, network: Partial<NetworkSpec> = {}): GuestSpec {
  return {
    name: 'web1',
    hostname: 'web1.example.org',
    domain: 'example.org',
    memory: 512 * 1024 * 1024,
    maxmem: undefined,
    vcpus: 1,
    maxvcpus: undefined,
    storage: {
      kind: 'file',
      dir: '/srv/xen',
      guestDir: '/srv/xen/domains/web1',
      allocation: 'sparse',
      format: 'raw',
    },
    disk: {
      size: 4 * GIB,
      fs: 'ext4',
      mountOptions: 'noatime,errors=remount-ro',
      mkfsCommand: undefined,
      format: true,
      device: 'xvda2',
    },
    swap: { size: 256 * 1024 * 1024, device: 'xvda1' },
    network: {
      mac: '00:16:3E:12:34:56',
      macSource: 'derived',
      mode: 'static',
      addresses: [{ address: '192.168.1.10', prefix: 24 }],
      gateway: '192.168.1.1',
      broadcast: '192.168.1.255',
      p2p: undefined,
      nameservers: ['192.168.1.53'],
      bridge: 'xenbr0',
      vifname: undefined,
      vlan: undefined,
      autoIp: false,
      ...network,
    },
    accounts: {
      rootPassword: { kind: 'none' },
      hashMethod: 'sha512',
      copyAccounts: false,
      admins: [],
      sshAuthorizedKeys: [],
    },
    install: makeInstallSpec({ cache: true, cacheDir: '/var/cache/apt/archives' }),
    boot: {
      type: 'pvh',
      useGuestKernel: true,
      kernel: undefined,
      initrd: undefined,
      modules: undefined,
      rootDevice: '/dev/xvda2',
      extra: undefined,
      serialDevice: 'hvc0',
    },
    hooks: {
      enabled: true,
      dirs: [],
      roles: [],
      finalRoles: [],
      roleArgs: undefined,
      roleDir: '/etc/xen-tools/role.d',
    },
    output: {
      dir: '/etc/xen',
      extension: '.cfg',
      cfgPath: '/etc/xen/web1.cfg',
      template: undefined,
      logPath: '/var/log/xen-tools/web1.log',
    },
    startAfter: false,
    force: false,
    keep: false,
    copyHosts: false,
    updateHostHosts: true,
    ...overrides,
  };
}

/** A step context whose sink records every event. */
export function makeContext(): { ctx: StepContext; events: LogEvent[] } {
  const events: LogEvent[] = [];
  const ctx: StepContext = {
    undo: new UndoStack(),
    sink: (e) => events.push(e),
    reporter: silentReporter,
    signal: new AbortController().signal,
    state: new Map(),
  };
  return { ctx, events };
}

/** A fresh temporary directory. */
export function tempDir(prefix = 'xenkit-customize-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes files under a directory: { 'etc/passwd': '...' }. */
export function writeFiles(dir: string, files: Record<string, string>, mode = 0o644): void {
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content, { mode });
  }
}

const UNIT = (install: string): string =>
  `[Unit]\nDescription=test\n\n[Service]\nExecStart=/bin/true\n\n[Install]\n${install}\n`;

/** A small Debian-like tree: account files, skel, systemd units, sudo; no /etc/ssh. */
export function makeFakeTree(): string {
  const root = tempDir('xenkit-tree-');
  writeFiles(root, {
    'etc/passwd': 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n',
    'etc/group': 'root:x:0:\nsudo:x:27:\nshadow:x:42:\nusers:x:100:\n',
    'etc/gshadow': 'root:*::\nsudo:*::\nshadow:*::\nusers:*::\n',
    'etc/skel/.bashrc': '# bashrc\n',
    'etc/apt/sources.list': 'deb http://deb.debian.org/debian bookworm main\n',
    'etc/hostname': 'buildhost\n',
    'etc/machine-id': '0123456789abcdef0123456789abcdef\n',
    'lib/systemd/system/serial-getty@.service': UNIT('WantedBy=getty.target'),
    'lib/systemd/system/systemd-networkd.service': UNIT(
      'WantedBy=multi-user.target\nAlso=systemd-networkd.socket\nAlias=dbus-org.freedesktop.network1.service',
    ),
    'lib/systemd/system/systemd-networkd.socket': UNIT('WantedBy=sockets.target'),
    'var/lib/dbus/machine-id': '0123456789abcdef0123456789abcdef\n',
  });
  writeFiles(root, { 'etc/shadow': 'root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n' }, 0o640);
  writeFiles(root, { 'usr/bin/sudo': '#!/bin/sh\n', 'bin/bash': '#!/bin/sh\n' }, 0o755);
  return root;
}

/** Reads a file of a tree. */
export function readTree(root: string, rel: string): string {
  return fs.readFileSync(path.join(root, rel), 'utf8');
}
