/**
 * The libvirt driver against a real libvirtd (started here when none runs, and stopped again):
 * one bookworm guest built by xen-create-image from the cached tree (the host's kernel and
 * initrd, a NIC on a bridge of its own with no uplink), booted once under TCG and driven through
 * `xm --driver libvirt`: create defines and starts it (virsh sees it, with the cfg's MAC), root
 * logs in on its serial console through `virsh console`, list, autostart, shutdown -w. afterAll
 * destroys and undefines it, removes the bridge and stops whatever daemon it started.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLibvirtDriver } from '../../../src/hypervisors/libvirt/driver.js';
import { makePaths } from '../../../src/paths.js';
import { runCommand } from '../../../src/tools/exec.js';
import { REPO, runBin, type CliResult } from '../../helpers/cli.js';
import { checkGuestInWebConsole, webConsoleMissing } from '../../helpers/web-console.js';
import { ensureLibvirtd, type LibvirtDaemons } from '../../helpers/libvirtd.js';
import { bookwormTarball } from '../../customize/bookworm-tree.js';
import { openConsoleTap, type ConsoleTap } from '../qemu/console-tap.js';
import { findTestKernel } from '../qemu/guest-fixture.js';

const NAME = `xklv${process.pid}`;
const BRIDGE = `xklvbr${process.pid % 10000}`;
const PASSWORD = `Lv-${randomBytes(6).toString('hex')}`;
const BOOT_MS = 300_000;
const virsh = (...args: string[]) =>
  runCommand(['virsh', '--connect', 'qemu:///system', ...args], { allowFailure: true });

/**
 * The hook that readies the cached tree (systemd, no kernel, no udev) for a console login and an
 * ACPI power-off: a getty on ttyS0 that waits for no device unit, D-Bus and udev (systemd-logind
 * then turns the power button into a clean power-off), and the host kernel's ACPI button and
 * evdev modules, which udev loads.
 */
function guestHook(modulesDir: string, version: string): string {
  return `#!/bin/sh
set -e
units="$1/etc/systemd/system"
mkdir -p "$units/multi-user.target.wants"
printf '%s\\n' '[Unit]' 'Description=login on ttyS0' '[Service]' \\
  'ExecStart=-/sbin/agetty --keep-baud 115200,38400,9600 ttyS0 vt220' 'Restart=always' \\
  > "$units/ttyS0-getty.service"
ln -sf ../ttyS0-getty.service "$units/multi-user.target.wants/ttyS0-getty.service"
ln -sf /dev/null "$units/serial-getty@ttyS0.service"
DEBIAN_FRONTEND=noninteractive chroot "$1" apt-get install -y -q --no-install-recommends dbus udev >/dev/null
m="$1/lib/modules/${version}"
mkdir -p "$m/kernel/drivers/acpi" "$m/kernel/drivers/input"
cp ${modulesDir}/kernel/drivers/acpi/button.ko* "$m/kernel/drivers/acpi/"
cp ${modulesDir}/kernel/drivers/input/evdev.ko* "$m/kernel/drivers/input/"
cp ${modulesDir}/modules.builtin* ${modulesDir}/modules.order "$m/"
depmod -b "$1" ${version}
`;
}

let scratch = '';
let root = '';
let daemons: LibvirtDaemons | undefined;
let tap: ConsoleTap | undefined;
const timings: Record<string, number> = {};

async function xm(args: string[], timeoutMs = 300_000): Promise<CliResult> {
  const started = Date.now();
  const result = await runBin('xm', [...args, '--root', root], {
    env: { XENKIT_DRIVER: 'libvirt' },
    timeoutMs,
  });
  timings[`xm ${args[0]}`] = Date.now() - started;
  return result;
}

beforeAll(async () => {
  daemons = await ensureLibvirtd();
  scratch = fs.mkdtempSync('/var/tmp/xenkit-libvirt-');
  root = path.join(scratch, 'root');
  fs.mkdirSync(root);
  fs.writeFileSync(path.join(root, 'pw'), `${PASSWORD}\n`, { mode: 0o600 });
  const tarball = await bookwormTarball();
  try {
    fs.linkSync(tarball, path.join(root, 'tree.tar'));
  } catch {
    fs.copyFileSync(tarball, path.join(root, 'tree.tar'));
  }
  await runCommand(['ip', 'link', 'add', 'name', BRIDGE, 'type', 'bridge']);
  // The cached tree has no udev (systemd would wait for dev-ttyS0.device in vain) and no kernel
  // modules: guestHook fills in what the console login and xm shutdown need.
  const hooks = path.join(root, 'etc/xen-tools/hooks.d');
  fs.mkdirSync(hooks, { recursive: true });
  const { kernel, version, modulesDir } = await findTestKernel();
  fs.writeFileSync(path.join(hooks, '90-console-and-power'), guestHook(modulesDir, version), { mode: 0o755 });
  const initrd = `/boot/initrd.img-${version}`;
  if (!fs.existsSync(initrd))
    throw new Error(`${initrd} is missing: the guest boots the host's kernel and initrd`);
  // --kernel and --initrd name files under the root.
  fs.mkdirSync(path.join(root, 'boot'));
  fs.copyFileSync(kernel, path.join(root, 'boot/vmlinuz'));
  fs.copyFileSync(initrd, path.join(root, 'boot/initrd.img'));
  const started = Date.now();
  const built = await runBin(
    'xen-create-image',
    [
      `--root=${root}`,
      `--hostname=${NAME}`,
      '--dist=bookworm',
      '--dir=/srv/xen',
      '--size=1G',
      '--noswap',
      '--memory=384M',
      '--maxmem=512M',
      '--vcpus=1',
      '--maxvcpus=2',
      '--dhcp',
      `--bridge=${BRIDGE}`,
      '--install-method=tar',
      '--install-source=/tree.tar',
      '--kernel=/boot/vmlinuz',
      '--initrd=/boot/initrd.img',
      '--password-file=/pw',
    ],
    { timeoutMs: 600_000 },
  );
  timings['xen-create-image'] = Date.now() - started;
  if (built.code !== 0) throw new Error(`xen-create-image failed:\n${built.stderr}${built.stdout}`);
}, 900_000);

afterAll(async () => {
  await tap?.detach().catch(() => undefined);
  await virsh('destroy', NAME);
  await virsh('undefine', NAME);
  await runCommand(['ip', 'link', 'del', BRIDGE], { allowFailure: true });
  await daemons?.stop();
  if (scratch && process.env.KEEP_WORK !== '1') fs.rmSync(scratch, { recursive: true, force: true });
  console.log(`libvirt driver timings (ms), daemons started here: ${daemons?.started.join(', ') || 'none'}`);
  console.log(JSON.stringify(timings));
}, 120_000);

describe('the libvirt driver on a real libvirtd', () => {
  it('defines and starts the guest with xm create: libvirt runs it as a TCG domain with the MAC of the cfg', async () => {
    const result = await xm(['create', NAME]);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`Started domain ${NAME} \\(id=\\d+\\)`));
    expect((await virsh('domstate', NAME)).stdout.trim()).toBe('running');
    const xml = (await virsh('dumpxml', NAME)).stdout;
    expect(xml).toContain("<domain type='qemu'");
    const cfg = fs.readFileSync(path.join(root, 'etc/xen', `${NAME}.cfg`), 'utf8');
    const mac = /mac=([0-9A-Fa-f:]{17})/.exec(cfg)?.[1]?.toLowerCase();
    expect(mac).toBeDefined();
    const nics = (await virsh('domiflist', NAME)).stdout;
    expect(nics).toContain(BRIDGE);
    expect(nics).toContain(mac ?? '-');
  });

  it('lets root log in on the serial console through virsh console', async () => {
    const started = Date.now();
    const driver = createLibvirtDriver({ paths: makePaths(root), uri: 'qemu:///system' });
    tap = openConsoleTap(driver, NAME, path.join(scratch, 'console.txt'));
    const deadline = Date.now() + BOOT_MS;
    // The console shows what the guest prints from now on: a getty already waiting shows its
    // prompt again after a newline.
    while (!/login: *$/m.test(tap.text())) {
      if (Date.now() > deadline) throw new Error(`no login prompt:\n${tap.text().slice(-2000)}`);
      tap.type('');
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
    timings.bootToLogin = Date.now() - started;
    const from = tap.text().length;
    tap.type('root');
    await tap.waitFor(/Password: *$/m, 60_000, from);
    tap.type(PASSWORD);
    await tap.waitFor(/# *$/m, 120_000, from);
    tap.type('echo "logged in as $(id -un) on $(hostname), $((6*7))"');
    await tap.waitFor(new RegExp(`logged in as root on ${NAME}, 42`), 60_000, from);
    timings.login = Date.now() - started;
    // Log out again: the getty comes back with a fresh prompt for the web console below.
    const out = tap.text().length;
    tap.type('exit');
    await tap.waitFor(/login: *$/m, 60_000, out);
    await tap.detach();
    tap = undefined;
  });

  it('shows the guest in the web console: cockpit-machines lists it running and its serial console has a login prompt', async () => {
    const missing = webConsoleMissing();
    if (missing) throw new Error(missing);
    const screenshot = path.join(REPO, '.test-results/artifacts/web-console.png');
    const seen = await checkGuestInWebConsole(NAME, screenshot);
    timings.webConsole = seen.elapsedMs;
    console.log(`web console: "${seen.row}"; screenshot ${screenshot}`);
    expect(seen.row).toMatch(new RegExp(`^${NAME} System Running`));
    expect(seen.console).toMatch(new RegExp(`${NAME} login:`));
    expect(fs.statSync(screenshot).size).toBeGreaterThan(10_000);
  }, 300_000);

  it('lists the guest with xm list: its ID, memory and vCPUs from libvirt', async () => {
    const result = await xm(['list', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const rows = JSON.parse(result.stdout) as { name: string; id: number; vcpus: number; maxVcpus: number }[];
    const id = Number((await virsh('domid', NAME)).stdout.trim());
    expect(rows.find((r) => r.name === NAME)).toMatchObject({ id, vcpus: 1, maxVcpus: 2 });
    expect(rows[0]).toMatchObject({ name: 'Domain-0', driver: 'libvirt' });
  });

  it('lists every host with --all-hosts: the guest under the local libvirtd, and a host that does not answer', async () => {
    const hosts = async (...args: string[]) => runBin('xenkit', ['hosts', ...args, '--root', root]);
    expect((await hosts('add', 'local', 'qemu:///system')).code).toBe(0);
    // Nothing listens on port 1 of the loopback: the connection is refused at once.
    expect((await hosts('add', 'gone', 'qemu+tcp://127.0.0.1:1/system')).code).toBe(0);
    expect((await hosts('list')).stdout).toMatch(/^gone +qemu\+tcp:\/\/127\.0\.0\.1:1\/system$/m);
    const all = await xm(['list', '--all-hosts']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(new RegExp(`^local +${NAME} +\\d+ `, 'm'));
    expect(all.stdout).toMatch(/^local +Domain-0 /m);
    expect(all.stdout).toMatch(
      /^gone +\(not answering: cannot reach libvirt at qemu\+tcp:\/\/127\.0\.0\.1:1\/system/m,
    );
    const onLocal = await xm(['list', '--host', 'local', '--json']);
    expect((JSON.parse(onLocal.stdout) as { name: string }[]).map((r) => r.name)).toContain(NAME);
    const onGone = await xm(['list', '--host', 'gone']);
    expect(onGone.code).toBe(2);
    expect(onGone.stderr.split('\n')[0]).toContain('cannot reach libvirt at qemu+tcp://127.0.0.1:1/system');
    expect((await hosts('remove', 'gone')).code).toBe(0);
    expect((await hosts('list')).stdout).not.toContain('gone');
  });

  it("maps xm autostart to libvirt's autostart flag", async () => {
    expect((await xm(['autostart', NAME, 'on'])).code).toBe(0);
    expect((await virsh('dominfo', NAME)).stdout).toMatch(/Autostart:\s+enable/);
    expect((await xm(['autostart'])).stdout).toContain(NAME);
    expect((await xm(['autostart', NAME, 'off'])).code).toBe(0);
    expect((await virsh('dominfo', NAME)).stdout).toMatch(/Autostart:\s+disable/);
  });

  it('shuts the guest down with xm shutdown -w; libvirt keeps it defined, shut off', async () => {
    const result = await xm(['shutdown', '-w', NAME], 400_000);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect((await virsh('domstate', NAME)).stdout.trim()).toBe('shut off');
    const listed = JSON.parse((await xm(['list', '--json'])).stdout) as { name: string }[];
    expect(listed.map((r) => r.name)).not.toContain(NAME);
  });
});
