/**
 * The seed's lab, for real: a guest built by `xen-create-image` (mmdebstrap from the Debian
 * mirror) runs under QEMU (TCG here) through `xm`: create, login on its serial console, hostname,
 * DHCP network, `list`, `mem-set`, `vcpu-set`, `shutdown -w`, a second create with a higher ID,
 * `destroy`, `autostart` + `start --auto`, and a restart after a destroy that left its root
 * filesystem needing recovery. Every phase is timed and bounded; afterAll
 * destroys the guest, kills any QEMU left with its name, and removes the scratch root.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasPvhEntry } from '../../src/hypervisors/qemu/pvh-elf.js';
import { runCommand } from '../../src/tools/exec.js';
import { runBin } from '../helpers/cli.js';
import { shareXenkitCache } from '../helpers/shared-xenkit-cache.js';
import {
  assertBuilt,
  createLabGuest,
  isProcessGone,
  killQemu,
  PhaseClock,
  pollUntil,
  qemuPids,
  startedId,
  xm,
  xmList,
} from './lab-guest.js';
import { SerialConsole } from './serial-console.js';
import type { XmListRow } from './xm-list.js';

const isRoot = process.getuid?.() === 0;
const NAME = `xke${process.pid}`;
const PASSWORD = `Lab-${randomBytes(6).toString('hex')}`;
/** TCG on a loaded 2-core machine: about 2 minutes to the login prompt; allow for much worse. */
const BOOT_MS = 600_000;
const MEMORY_MIB = 512;

describe.skipIf(!isRoot)('the seed lab on a real xenkit guest under QEMU', () => {
  const clock = new PhaseClock();
  let scratch = '';
  let root = '';
  let firstId = 0;
  let lastId = 0;
  let serial: SerialConsole | undefined;

  const runDir = (): string => path.join(root, 'run/xenkit/qemu', NAME);
  const connect = async (): Promise<SerialConsole> =>
    SerialConsole.connect(path.join(runDir(), 'console.sock'), NAME, path.join(scratch, 'console.txt'));
  const shell = (): SerialConsole => {
    if (!serial) throw new Error('not logged in on the console');
    return serial;
  };
  const inGuest = async (command: string, timeoutMs?: number): Promise<string> => {
    const result = await shell().run(command, timeoutMs);
    if (result.status !== 0)
      throw new Error(`in ${NAME}: \`${command}\` exited ${result.status}:\n${result.output}`);
    return result.output;
  };
  const memTotal = async (): Promise<number> => {
    const line = (await inGuest('free -m')).split('\n').find((l) => l.startsWith('Mem:'));
    return Number(line?.split(/\s+/)[1]);
  };
  /** The guest kernel's command line as it sees it, and whether its QEMU runs TCG. */
  const kernelCmdline = async (): Promise<{ cmdline: string[]; tcg: boolean }> => {
    const cmdline = (await inGuest('cat /proc/cmdline')).trim().split(' ');
    const [pid] = await qemuPids(NAME);
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
    return { cmdline, tcg: (argv[argv.indexOf('-accel') + 1] ?? '').startsWith('tcg') };
  };
  const listed = async (): Promise<XmListRow | undefined> =>
    (await xmList(root)).find((row) => row.name === NAME);

  beforeAll(async () => {
    assertBuilt();
    scratch = fs.mkdtempSync('/var/tmp/xenkit-lab-');
    root = path.join(scratch, 'root');
    fs.mkdirSync(root);
    shareXenkitCache(root);
    fs.writeFileSync(path.join(root, 'pw'), `${PASSWORD}\n`, { mode: 0o600 });
    console.log(`[e2e] guest ${NAME} under ${root}`);
  });

  afterAll(async () => {
    serial?.close();
    if (root) await runBin('xm', ['destroy', NAME, '--root', root], { timeoutMs: 60_000 });
    await killQemu(NAME);
    console.log(`[e2e] phases of ${NAME}:\n${clock.render()}`);
    const left = await qemuPids(NAME);
    if (scratch && process.env.KEEP_WORK !== '1') fs.rmSync(scratch, { recursive: true, force: true });
    expect(left).toEqual([]);
  });

  it('builds the guest with xen-create-image', async () => {
    const result = await clock.time('xen-create-image', () =>
      createLabGuest(root, NAME, [
        '--swap=256M',
        '--vcpus=1',
        '--maxvcpus=2',
        `--memory=${MEMORY_MIB}M`,
        `--maxmem=${MEMORY_MIB}M`,
      ]),
    );
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(fs.existsSync(path.join(root, 'etc/xen', `${NAME}.cfg`))).toBe(true);
  });

  it('starts it with xm create', async () => {
    const result = await clock.time('xm create', () => xm(root, ['create', NAME]));
    firstId = startedId(result, NAME);
    lastId = firstId;
    expect(firstId).toBeGreaterThanOrEqual(1);
    expect(await qemuPids(NAME)).toHaveLength(1);
  });

  it("boots, under TCG on one thread (it can gain a vCPU), the guest's kernel decompressed on the host through its PVH entry", async () => {
    const [pid] = await qemuPids(NAME);
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
    const kernel = argv[argv.indexOf('-kernel') + 1] ?? '';
    const accel = argv[argv.indexOf('-accel') + 1] ?? '';
    if (!accel.startsWith('tcg')) return;
    // maxvcpus 2 over vcpus 1: one TCG thread, so the vCPU vcpu-set adds cannot abort QEMU.
    expect(accel).toMatch(/^tcg,thread=single,/);
    expect(kernel).toBe(path.join(runDir(), 'vmlinux-pvh'));
    expect(hasPvhEntry(fs.readFileSync(kernel))).toBe(true);
    // xen-create-image unpacked it while it wrote the images: the first boot took it from the cache.
    const log = fs.readFileSync(path.join(root, 'var/log/xen-tools', `${NAME}.log`), 'utf8');
    const prepared = /PVH kernel for the first boot: (\S+\.elf)$/m.exec(log)?.[1] ?? '';
    expect(prepared.startsWith(path.join(root, 'var/cache/xenkit/pvh-kernels/')), log).toBe(true);
    expect(fs.statSync(kernel).ino).toBe(fs.statSync(prepared).ino);
  });

  it('reaches a login prompt on its serial console, where root logs in with its password', async () => {
    serial = await connect();
    await clock.time('boot to login prompt', () => shell().waitForLogin(BOOT_MS));
    await clock.time('root login', () => shell().login('root', PASSWORD, 120_000));
    expect(await inGuest('id -un')).toBe('root\n');
  });

  it('answers hostname with the guest name', async () => {
    expect((await inGuest('hostname')).trim()).toBe(NAME);
  });

  it("has its network up by DHCP from QEMU's user network", async () => {
    const addresses = await clock.time('network up', () =>
      pollUntil(
        'the guest IPv4 addresses',
        () => inGuest('ip -4 -o addr show scope global'),
        (text) => text.includes('inet 10.0.2.15/24'),
        180_000,
      ),
    );
    expect(addresses).toMatch(/inet 10\.0\.2\.15\/24 .*dynamic/);
    expect(await inGuest('ip -4 route show default')).toContain('via 10.0.2.2');
  });

  it("runs Debian's cloud kernel, the default guest kernel, unpacked from its LZ4 bzImage", async () => {
    expect((await inGuest('uname -r')).trim()).toMatch(/-cloud-amd64$/);
    // ext4 is built into the cloud flavour: the root needs no module for its filesystem.
    expect(await inGuest('grep -c /ext4.ko$ /lib/modules/$(uname -r)/modules.builtin')).toBe('1\n');
  });

  it('loads no module for the devices and CPU features the QEMU driver leaves out or boot-trim keeps out', async () => {
    const modules = (await inGuest("lsmod | awk 'NR > 1 { print $1 }'")).split('\n');
    expect(modules).toContain('virtio_blk');
    const left = ['kvm', 'ahci', 'libata', 'i2c_i801', 'cfg80211', 'pcspkr', 'serio_raw', 'loop', 'dm_mod'];
    for (const name of left) expect(modules).not.toContain(name);
  });

  it('skips the crypto self-tests under TCG, where the SIMD crypto drivers still register', async () => {
    const { cmdline, tcg } = await kernelCmdline();
    expect(cmdline.includes('cryptomgr.notests')).toBe(tcg);
    if (!tcg) return;
    expect(await inGuest('cat /sys/module/cryptomgr/parameters/notests')).toBe('Y\n');
    // The accelerated implementations registered anyway (none was refused).
    expect(
      await inGuest("grep -c '^driver.*: sha256-ssse3\\|^driver.*: __xts-aes-aesni' /proc/crypto"),
    ).not.toBe('0\n');
  });

  it('turns the speculation mitigations off under TCG only (the emulated CPU does not speculate)', async () => {
    const { cmdline, tcg } = await kernelCmdline();
    expect(cmdline.includes('mitigations=off')).toBe(tcg);
    if (!tcg) return;
    // Debian's kernel turns retpolines on for QEMU's max CPU; the guest kernel now reports none.
    expect(await inGuest('cat /sys/devices/system/cpu/vulnerabilities/spectre_v2')).toMatch(/^Vulnerable/);
  });

  it('has its swap on, sshd listening and no failed unit', async () => {
    expect(await inGuest('swapon --show=NAME --noheadings')).toBe('/dev/vdb\n');
    await pollUntil(
      'sshd active',
      () => shell().run('systemctl is-active ssh.service'),
      (result) => result.output.trim() === 'active',
      180_000,
    );
    expect(await inGuest('ss -Htln sport = :22 | wc -l')).not.toBe('0\n');
    expect(await inGuest('systemctl --failed --plain --no-legend | wc -l')).toBe('0\n');
  });

  it("is listed by xm list with the cfg's Mem and VCPUs, after Domain-0", async () => {
    const rows = await xmList(root);
    expect(rows[0]?.name).toBe('Domain-0');
    expect(rows[0]?.id).toBe(0);
    const row = rows.find((r) => r.name === NAME);
    expect(row).toMatchObject({ id: firstId, memMiB: MEMORY_MIB, vcpus: 1 });
    expect(row?.state).toMatch(/^[r-][b-]----$/);
    expect(row?.timeSec).toBeGreaterThan(0);
  });

  it('shrinks the memory the guest sees with xm mem-set 256M', async () => {
    const before = await memTotal();
    await xm(root, ['mem-set', NAME, '256M']);
    const after = await clock.time('mem-set 256M seen in the guest', () =>
      pollUntil('free -m total', memTotal, (total) => total <= before - 200, 180_000),
    );
    console.log(`[e2e] free -m total: ${before} -> ${after} MiB`);
    expect(after).toBeLessThan(256);
    // xm list shows the balloon's actual size, which the guest reaches a moment after it starts
    // handing memory back (seconds on a busy host): wait for it rather than read it once.
    const shown = await pollUntil(
      'xm list Mem',
      async () => (await listed())?.memMiB,
      (mib) => mib === 256,
      60_000,
    );
    expect(shown).toBe(256);
  });

  it('gives the guest a second CPU with xm vcpu-set 2 (onlined by the udev rule)', async () => {
    expect((await inGuest('nproc')).trim()).toBe('1');
    await xm(root, ['vcpu-set', NAME, '2']);
    await clock.time('vcpu-set 2 seen in the guest', () =>
      pollUntil(
        'nproc',
        async () => (await inGuest('nproc')).trim(),
        (n) => n === '2',
        180_000,
      ),
    );
    expect((await listed())?.vcpus).toBe(2);
  });

  it('ends it cleanly with xm shutdown -w', async () => {
    try {
      const result = await clock.time('shutdown -w', () =>
        runBin('xm', ['shutdown', '-w', NAME, '--root', root], { timeoutMs: 400_000 }),
      );
      expect(result.code, result.stderr + result.stdout).toBe(0);
      expect(await qemuPids(NAME)).toEqual([]);
      expect(await listed()).toBeUndefined();
      await shell().waitClosed(10_000);
    } finally {
      // So that the later steps still run when the guest did not power off.
      serial?.close();
      serial = undefined;
      if ((await qemuPids(NAME)).length > 0) await xm(root, ['destroy', NAME]);
    }
  });

  it('gives it a higher ID on a second xm create, and xm destroy kills it', async () => {
    const result = await xm(root, ['create', NAME]);
    const id = startedId(result, NAME);
    expect(id).toBeGreaterThan(lastId);
    lastId = id;
    expect((await listed())?.id).toBe(id);
    const [pid] = await qemuPids(NAME);
    expect(pid).toBeDefined();
    await clock.time('destroy', () => xm(root, ['destroy', NAME]));
    expect(await qemuPids(NAME)).toEqual([]);
    expect(isProcessGone(pid ?? 0)).toBe(true);
    expect(await listed()).toBeUndefined();
  });

  it('starts it with xm start --auto once xm autostart turned it on', async () => {
    await xm(root, ['autostart', NAME, 'on']);
    const link = path.join(root, 'etc/xen/auto', `${NAME}.cfg`);
    expect(fs.realpathSync(link)).toBe(fs.realpathSync(path.join(root, 'etc/xen', `${NAME}.cfg`)));
    const result = await clock.time('start --auto', () => xm(root, ['start', '--auto']));
    const id = startedId(result, NAME);
    expect(id).toBeGreaterThan(lastId);
    lastId = id;
    expect((await listed())?.id).toBe(id);
    // Already running: a second start --auto leaves it alone.
    await xm(root, ['start', '--auto']);
    expect(await qemuPids(NAME)).toHaveLength(1);
    // It really boots; leave a file on its root filesystem for the next test.
    serial = await connect();
    await clock.time('boot to login prompt (autostarted)', () => shell().login('root', PASSWORD, BOOT_MS));
    await inGuest('echo autostarted > /root/xenkit-e2e-mark && sync');
    // Keep the filesystem busy so that, when destroy kills it, writeback has left the on-disk
    // metadata half updated (what made debugfs refuse the image: "bitmap checksum does not match").
    await inGuest(
      "setsid -f sh -c 'for i in $(seq 1 90); do date > /root/busy-$i; sleep 1; done' >/dev/null 2>&1",
    );
    await new Promise((resolve) => setTimeout(resolve, 40_000));
    await xm(root, ['autostart', NAME, 'off']);
    expect(fs.existsSync(link)).toBe(false);
  });

  it('starts again after xm destroy killed it with its root filesystem mounted', async () => {
    serial?.close();
    serial = undefined;
    await xm(root, ['destroy', NAME]);
    // The root ext4 now needs journal recovery; the kernel must still be taken out of it.
    const disk = path.join(root, 'srv/xen/domains', NAME, 'disk.img');
    const probe = await runCommand(['debugfs', '-R', 'ls -p /boot', disk], { allowFailure: true });
    console.log(
      `[e2e] root image after destroy, read without recovery: ${/vmlinuz-/.test(probe.stdout) ? 'readable' : probe.stderr.trim().split('\n').at(-1)}`,
    );
    const result = await clock.time('xm create after destroy', () => xm(root, ['create', NAME]));
    expect(startedId(result, NAME)).toBeGreaterThan(lastId);
    serial = await connect();
    await clock.time('boot to login prompt (after destroy)', () => shell().login('root', PASSWORD, BOOT_MS));
    expect(await inGuest('cat /root/xenkit-e2e-mark')).toBe('autostarted\n');
    serial.close();
    serial = undefined;
    await xm(root, ['destroy', NAME]);
    expect(await qemuPids(NAME)).toEqual([]);
  });
});
