/**
 * The user network of a QEMU guest, for real: `xm create` (the built CLI) boots a busybox guest
 * whose init takes a DHCP lease, connects to the host's gateway address 10.0.2.2 (where
 * QEMU's own user network reaches the host's 127.0.0.1), to an ordinary host address, and asks
 * the resolver 10.0.2.3, then prints what it got and powers off. The host side is a network
 * namespace made for the test (a veth pair, one end with 192.0.2.2 and a default route, its own
 * resolv.conf naming a tiny DNS responder there), so no packet leaves the machine.
 * With `xenkit_host_loopback = 0` (passt) the guest gets DHCP, DNS and the outside address but
 * not the 127.0.0.1-only listener; by default (QEMU's slirp) it reaches that listener too.
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../../src/tools/exec.js';
import { REPO } from '../../helpers/cli.js';
import { findTestKernel } from './guest-fixture.js';

const NAME = `xknet${process.pid}`;
const LOOP_PORT = 47_011;
const OUT_PORT = 47_012;

const MODULES = [
  'drivers/virtio/virtio_ring.ko',
  'drivers/virtio/virtio.ko',
  'drivers/virtio/virtio_pci_modern_dev.ko',
  'drivers/virtio/virtio_pci_legacy_dev.ko',
  'drivers/virtio/virtio_pci.ko',
  'net/core/failover.ko',
  'drivers/net/net_failover.ko',
  'drivers/net/virtio_net.ko',
];

const INIT = `#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in ${MODULES.map((m) => path.basename(m, '.ko')).join(' ')}; do insmod /lib/modules/$m.ko; done
ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -n -q -t 10 -T 2 -s /bin/dhcp-script
# busybox nc's -w bounds only the connect: a lost FIN would keep it reading for ever, so the
# whole probe is bounded, and the outside one tried three times (see the passt test below).
probe() { echo | timeout 10 nc -w 5 "$1" "$2" 2>/dev/null | head -c 40 | tr -d '\\n'; }
echo "LOOPBACK[$(probe 10.0.2.2 ${LOOP_PORT})]"
for try in 1 2 3; do
  out=$(probe 192.0.2.2 ${OUT_PORT})
  echo "OUTSIDE-TRY[$try:$out]"
  [ -n "$out" ] && break
done
echo "OUTSIDE[$out]"
echo "DNS[$(nslookup probe.test 10.0.2.3 2>&1 | tr '\\n' ' ')]"
echo NETCHECK-DONE
poweroff -f
`;

const DHCP_SCRIPT = `#!/bin/sh
case "$1" in
  bound|renew)
    ip addr add "$ip/$mask" dev "$interface"
    ip route add default via "$router"
    echo "DHCP[ip=$ip router=$router dns=$dns]"
    ;;
esac
`;

/** Host side: a listener on 127.0.0.1 only, one on the namespace's own address, and a DNS responder. */
const HELPER = `
import net from 'node:net';
import dgram from 'node:dgram';
net.createServer((s) => s.end('SECRET-LOOPBACK\\n')).listen(${LOOP_PORT}, '127.0.0.1');
net.createServer((s) => s.end('OUTSIDE-OK\\n')).listen(${OUT_PORT}, '192.0.2.2');
const dns = dgram.createSocket('udp4');
dns.on('message', (q, from) => {
  let end = 12;
  while (q[end] !== 0) end += q[end] + 1;
  const question = q.subarray(12, end + 5);
  const header = Buffer.from([q[0], q[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
  const answer = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 2]);
  dns.send(Buffer.concat([header, question, answer]), from.port, from.address);
});
dns.bind(53, '192.0.2.2');
`;

let work: string;
let kernel: string;
let initrd: string;

async function buildNetInitramfs(modulesDir: string, out: string): Promise<void> {
  const tree = path.join(work, 'initramfs');
  for (const dir of ['bin', 'proc', 'sys', 'dev', 'etc', 'lib/modules', 'tmp', 'var/run']) {
    mkdirSync(path.join(tree, dir), { recursive: true });
  }
  copyFileSync('/bin/busybox', path.join(tree, 'bin/busybox'));
  chmodSync(path.join(tree, 'bin/busybox'), 0o755);
  await runCommand(['ln', '-sf', 'busybox', path.join(tree, 'bin/sh')]);
  for (const module of MODULES) {
    copyFileSync(
      path.join(modulesDir, 'kernel', module),
      path.join(tree, 'lib/modules', path.basename(module)),
    );
  }
  writeFileSync(path.join(tree, 'init'), INIT, { mode: 0o755 });
  writeFileSync(path.join(tree, 'bin/dhcp-script'), DHCP_SCRIPT, { mode: 0o755 });
  const files = await runCommand(['find', '.', '-mindepth', '1'], { cwd: tree });
  await runCommand(['cpio', '--quiet', '-o', '-H', 'newc', '-F', out], { cwd: tree, input: files.stdout });
}

/**
 * Boots the guest with `extraCfg` in a fresh network namespace and returns its console: the
 * namespace, its resolver and listeners, xm create and the wait all run inside `unshare`.
 */
async function bootInNamespace(label: string, extraCfg: string): Promise<string> {
  const root = path.join(work, label);
  const cfg = path.join(root, 'etc/xen', `${NAME}.cfg`);
  mkdirSync(path.dirname(cfg), { recursive: true });
  writeFileSync(
    cfg,
    [
      `name = '${NAME}'`,
      `kernel = '${kernel}'`,
      `ramdisk = '${initrd}'`,
      "memory = '128'",
      "vcpus = '1'",
      "vif = [ 'mac=00:16:3e:12:34:56' ]",
      "on_poweroff = 'destroy'",
      extraCfg,
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(work, 'resolv.conf'), 'nameserver 192.0.2.2\n');
  writeFileSync(path.join(work, 'helper.mjs'), HELPER);
  const consoleLog = path.join(root, 'run/xenkit/qemu', NAME, 'console.log');
  const script = `
set -e
ip link set lo up
ip link add xkn0 type veth peer name xkn1
ip addr add 192.0.2.2/24 dev xkn0
ip link set xkn0 up
ip link set xkn1 up
ip route add default via 192.0.2.1
mount --bind ${work}/resolv.conf /etc/resolv.conf
${process.execPath} ${work}/helper.mjs & helper=$!
sleep 0.5
export XENKIT_ROOT=${root} XENKIT_DRIVER=qemu XENKIT_ACCEL=tcg
${process.execPath} ${REPO}/bin/xm.js create ${NAME} >&2
for i in $(seq 1 600); do
  grep -q NETCHECK-DONE ${consoleLog} 2>/dev/null && break
  sleep 0.25
done
sleep 1
cat ${consoleLog}
${process.execPath} ${REPO}/bin/xm.js destroy ${NAME} >/dev/null 2>&1 || true
kill $helper
`;
  const result = await runCommand(['unshare', '--net', '--mount', '--fork', 'bash', '-c', script], {
    timeoutMs: 240_000,
    allowFailure: true,
  });
  if (result.exitCode !== 0) throw new Error(`the namespace run failed:\n${result.stderr}\n${result.stdout}`);
  return result.stdout;
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'xenkit-user-net-'));
  const found = await findTestKernel();
  kernel = found.kernel;
  initrd = path.join(work, 'initrd.img');
  await buildNetInitramfs(found.modulesDir, initrd);
}, 600_000);

afterAll(async () => {
  const left = await runCommand(['pgrep', '-f', `qemu-system.* -name ${NAME},`], { allowFailure: true });
  for (const pid of left.stdout.split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
  if (process.env.KEEP_WORK !== '1') rmSync(work, { recursive: true, force: true });
});

describe('the user network of a QEMU guest', () => {
  it('gives DHCP, DNS and outside addresses but not the host loopback, with xenkit_host_loopback = 0 (passt)', async () => {
    const seen = await bootInNamespace('isolated', 'xenkit_host_loopback = 0');
    expect(seen).toContain('NETCHECK-DONE');
    // DHCP hands out the host's resolver; 10.0.2.3 answers too (below), as under slirp.
    expect(seen).toMatch(/DHCP\[ip=10\.0\.2\.15 router=10\.0\.2\.2 dns=192\.0\.2\.2\]/);
    // passt 0.0~git20230309 was seen handing the guest this reply three times over (2 of 7
    // runs, load average 13 on 2 cores, the TCG guest acknowledging late), and once, under CI,
    // never closing the connection: the connection is checked here (within three tries of ten
    // seconds), not the integrity of its stream.
    expect(seen).toContain('OUTSIDE[OUTSIDE-OK');
    expect(seen).toMatch(/DNS\[.*probe\.test.*192\.0\.2\.2/);
    expect(seen).toContain('LOOPBACK[]');
    expect(seen).not.toContain('SECRET-LOOPBACK');
  });

  it('reaches the host loopback through 10.0.2.2 by default (QEMU slirp)', async () => {
    const seen = await bootInNamespace('default', '');
    expect(seen).toContain('NETCHECK-DONE');
    expect(seen).toContain('LOOPBACK[SECRET-LOOPBACK]');
    expect(seen).toContain('OUTSIDE[OUTSIDE-OK]');
    expect(seen).toMatch(/DNS\[.*192\.0\.2\.2/);
  });
});
