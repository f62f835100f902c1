/**
 * One image, two hypervisors: a full bookworm guest built by the real xen-create-image (mmdebstrap
 * from the Debian mirror, its own kernel, menu.lst for pygrub) boots under QEMU on this host
 * (vd* disks, ttyS0, a PCI NIC) and then, unchanged, as a pv guest of a nested Xen 4.17 (xvd*,
 * hvc0, enX0), where xm create goes through the xl driver and pygrub. Root logs in on the console
 * both times and reports the devices it sees; the machine-id the first boot wrote and the SSH host
 * key show that it is the same system.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, runBin } from '../helpers/cli.js';
import { assertBuilt, createLabGuest, killQemu, startedId, xm } from '../e2e/lab-guest.js';
import { SerialConsole } from '../e2e/serial-console.js';
import { parseFacts } from './lvm-scenarios.js';
import { renderSameImageScenario } from './same-image-scenario.js';
import { runInVm } from './vm.js';

const isRoot = process.getuid?.() === 0;
const hasXen =
  fs.existsSync('/usr/lib/xen-4.17/bin/xl') &&
  fs.readdirSync('/boot').some((f) => /^xen-4\.17.*\.gz$/.test(f));
const NAME = `xsame${process.pid % 10000}`;
const PASSWORD = `Same-${randomBytes(6).toString('hex')}`;

/** What the guest reports about itself, under either hypervisor. */
const GUEST_FACTS: Record<string, string> = {
  root: 'findmnt -no SOURCE /',
  console: 'tty',
  nics: "ls /sys/class/net | grep -v '^lo$'",
  hostname: 'hostname',
  kernel: 'uname -r',
  swap: 'swapon --show=NAME --noheadings',
  machineId: 'cat /etc/machine-id',
  hostKey: "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub | cut -d' ' -f2",
};

describe.skipIf(!isRoot || !hasXen)('the same guest image under QEMU and under Xen', () => {
  let scratch = '';
  let root = '';
  const underQemu = new Map<string, string>();
  let xen = new Map<string, string>();
  const times: string[] = [];
  const timed = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    try {
      return await fn();
    } finally {
      times.push(`${label} ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
  };

  beforeAll(() => {
    assertBuilt();
    scratch = fs.mkdtempSync('/var/tmp/xenkit-same-');
    root = path.join(scratch, 'root');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'pw'), `${PASSWORD}\n`, { mode: 0o600 });
  });

  afterAll(async () => {
    if (root) await runBin('xm', ['destroy', NAME, '--root', root], { timeoutMs: 60_000 });
    await killQemu(NAME);
    console.log(`same image ${NAME}: ${times.join(', ')}`);
    if (scratch && process.env.KEEP_WORK !== '1') fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('is built by xen-create-image with its own kernel', async () => {
    const result = await timed('create', () => createLabGuest(root, NAME, ['--swap=128M', '--memory=384M']));
    expect(result.code, result.stderr + result.stdout).toBe(0);
  }, 1_600_000);

  it('boots under QEMU: vda root, ttyS0 console, a PCI NIC', async () => {
    const started = await xm(root, ['create', NAME]);
    expect(startedId(started, NAME)).toBeGreaterThan(0);
    const serial = await SerialConsole.connect(
      path.join(root, 'run/xenkit/qemu', NAME, 'console.sock'),
      NAME,
      path.join(scratch, 'qemu-console.txt'),
    );
    try {
      await timed('qemu boot+login', () => serial.login('root', PASSWORD, 600_000));
      for (const [key, command] of Object.entries(GUEST_FACTS)) {
        const result = await serial.run(command);
        underQemu.set(key, result.output.trim().split('\n').join(' '));
      }
    } finally {
      serial.close();
    }
    await timed('qemu shutdown', () => xm(root, ['shutdown', '-w', NAME], 400_000));
    console.log('under QEMU:', Object.fromEntries(underQemu));
    expect(underQemu.get('hostname')).toBe(NAME);
    expect(underQemu.get('root')).toBe('/dev/vda');
    expect(underQemu.get('console')).toBe('/dev/ttyS0');
    expect(underQemu.get('nics')).toMatch(/^en(p\d+s\d+|s\d+)$/);
    expect(underQemu.get('swap')).toBe('/dev/vdb');
  }, 900_000);

  it('boots the same image as a pv guest of Xen 4.17: xvda2 root, hvc0 console, enX0', async () => {
    const domainDir = path.join(root, 'srv/xen/domains', NAME);
    const script = renderSameImageScenario({
      repo: REPO,
      name: NAME,
      cfg: path.join(root, 'etc/xen', `${NAME}.cfg`),
      passwordFile: path.join(root, 'pw'),
      guestFacts: GUEST_FACTS,
      loginTimeoutS: 1200,
    });
    const result = await timed('xen vm', () =>
      runInVm({
        kind: 'xen',
        command: { script },
        disks: [
          { path: path.join(domainDir, 'disk.img'), format: 'raw' },
          { path: path.join(domainDir, 'swap.img'), format: 'raw' },
        ],
        memoryMiB: 2048,
        dom0MemoryMiB: 1024,
        timeoutMs: 1_700_000,
        keepTempDir: process.env.XENKIT_VM_KEEP === '1',
      }),
    );
    xen = parseFacts(result.stdout);
    const phases = [...xen].filter(([k]) => k.startsWith('time.')).map(([k, v]) => `${k.slice(5)} ${v} s`);
    console.log(`Xen VM (${os.hostname()}): dom0 ready after ${result.bootSeconds} s; ${phases.join(', ')}`);
    expect(xen.get('start.exit'), result.stdout + result.stderr).toBe('0');
    expect(xen.get('start.type')).toBe('"type": "pv"');
    expect(xen.get('boot.login'), result.stdout).toBe('0');
    expect(xen.get('console.login'), result.stdout + result.stderr).toBe('0');
    expect(xen.get('hostname')).toBe(NAME);
    expect(xen.get('root')).toBe('/dev/xvda2');
    expect(xen.get('console')).toBe('/dev/hvc0');
    expect(xen.get('nics')).toBe('enX0');
    expect(xen.get('swap')).toBe('/dev/xvda1');
    expect(xen.get('list.row')).toBe(`${NAME} 384 1`);
    expect(xen.get('shutdown.exit'), result.stdout).toBe('0');
    expect(xen.get('shutdown.gone')).not.toBe('0');
  }, 1_800_000);

  it('is the same system both times: kernel, machine-id and SSH host key', () => {
    for (const key of ['kernel', 'machineId', 'hostKey']) {
      expect(xen.get(key), key).toBeTruthy();
      expect(xen.get(key), key).toBe(underQemu.get(key));
    }
  });
});
