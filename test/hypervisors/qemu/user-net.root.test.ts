/**
 * The user network of a QEMU guest, for real: `xm create` (the built CLI) boots a busybox guest
 * whose init takes a DHCP lease, connects to the host's gateway address 10.0.2.2 (where plain
 * QEMU slirp reaches the host's 127.0.0.1), to an ordinary host address, asks the resolver
 * 10.0.2.3, downloads 1 MiB and 4 MiB over HTTP and a reply to a request it half-closed
 * (`echo | nc`), then prints what it got and powers off. The host side is a network namespace
 * made for the test (a veth pair, one end with 192.0.2.2 and a default route, its own
 * resolv.conf naming a tiny DNS responder there, a bridge for the bridged case), so no packet
 * leaves the machine.
 * By default (QEMU in its own namespace behind slirp4netns) the guest gets all of that but not
 * the 127.0.0.1-only listener; with `xenkit_host_loopback = 1` it reaches that listener too; a
 * guest that also has a bridged NIC gets passt, which keeps the loopback away as well.
 */
import { createHash } from 'node:crypto';
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
const HTTP_PORT = 47_013;
const ECHO_PORT = 47_014;
/** The downloads, in bytes: big enough to span many windows, small enough for a TCG guest. */
const SIZES = [1_048_576, 4_194_304];

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
mount -t tmpfs tmp /tmp
if [ "$(cat /proc/cmdline | grep -c xk_downloads)" = 1 ]; then
  for size in ${SIZES.join(' ')}; do
    timeout 120 wget -q -O /tmp/f http://192.0.2.2:${HTTP_PORT}/$size; rc=$?
    echo "DOWNLOAD[$size rc=$rc bytes=$(wc -c < /tmp/f) md5=$(md5sum /tmp/f | cut -d' ' -f1)]"
    rm -f /tmp/f
  done
  # A request the guest half-closes first: the reply must come once, whole, and end.
  echo 65536 | timeout 60 nc 192.0.2.2 ${ECHO_PORT} > /tmp/f; rc=$?
  echo "HALFCLOSE[rc=$rc bytes=$(wc -c < /tmp/f) md5=$(md5sum /tmp/f | cut -d' ' -f1)]"
fi
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
import http from 'node:http';
import net from 'node:net';
import dgram from 'node:dgram';
net.createServer((s) => s.end('SECRET-LOOPBACK\\n')).listen(${LOOP_PORT}, '127.0.0.1');
net.createServer((s) => s.end('OUTSIDE-OK\\n')).listen(${OUT_PORT}, '192.0.2.2');
const body = ${body.toString()};
http.createServer((req, res) => {
  const data = body(Number(req.url.slice(1)));
  res.writeHead(200, { 'content-length': data.length });
  res.end(data);
}).listen(${HTTP_PORT}, '192.0.2.2');
net.createServer((s) => {
  let line = '';
  s.on('error', () => undefined);
  s.on('data', (d) => {
    line += d;
    if (line.includes('\\n') && !s.answered) {
      s.answered = true;
      s.end(body(Number(line.trim())));
    }
  });
}).listen(${ECHO_PORT}, '192.0.2.2');
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

/** Deterministic bytes, so the guest's checksum can be compared with the host's. */
function body(n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + (i >> 8) * 13) & 255;
  return out;
}

const md5 = (n: number): string => createHash('md5').update(body(n)).digest('hex');

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
async function bootInNamespace(
  label: string,
  extraCfg: string,
  vifs = "[ 'mac=00:16:3e:12:34:56' ]",
): Promise<string> {
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
      `vif = ${vifs}`,
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
ip link add xknbr0 type bridge
ip link set xknbr0 up
# This namespace's own interfaces under /sys/class/net, where the driver looks for bridges.
mount -t sysfs sysfs /sys
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
left=
for p in $(pgrep -x 'slirp4netns|passt|passt.avx2'); do grep -q "${root}/" /proc/$p/cmdline 2>/dev/null && left="$left $p"; done
echo "LEFT[$left]"
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
  const downloaded = (seen: string): void => {
    for (const size of SIZES) expect(seen).toContain(`DOWNLOAD[${size} rc=0 bytes=${size} md5=${md5(size)}]`);
    expect(seen).toContain(`HALFCLOSE[rc=0 bytes=65536 md5=${md5(65_536)}]`);
  };

  it("keeps the host's loopback away by default, with slirp's DHCP, DNS, outside addresses and downloads", async () => {
    const seen = await bootInNamespace('default', "extra = 'xk_downloads'");
    expect(seen).toContain('NETCHECK-DONE');
    expect(seen).toMatch(/DHCP\[ip=10\.0\.2\.15 router=10\.0\.2\.2 dns=10\.0\.2\.3\]/);
    expect(seen).toContain('OUTSIDE[OUTSIDE-OK]');
    expect(seen).toMatch(/DNS\[.*probe\.test.*192\.0\.2\.2/);
    expect(seen).toContain('LOOPBACK[]');
    expect(seen).not.toContain('SECRET-LOOPBACK');
    downloaded(seen);
    // xm destroy ended slirp4netns with QEMU.
    expect(seen).toContain('LEFT[]');
  });

  it('reaches the host loopback through 10.0.2.2 with xenkit_host_loopback = 1 (plain QEMU slirp)', async () => {
    const seen = await bootInNamespace('loopback', 'xenkit_host_loopback = 1');
    expect(seen).toContain('NETCHECK-DONE');
    expect(seen).toContain('LOOPBACK[SECRET-LOOPBACK]');
    expect(seen).toContain('OUTSIDE[OUTSIDE-OK]');
    expect(seen).toMatch(/DNS\[.*192\.0\.2\.2/);
  });

  it('serves the user NIC of a guest with a bridged one too by passt, without the host loopback', async () => {
    const seen = await bootInNamespace(
      'bridged',
      '',
      "[ 'mac=00:16:3e:12:34:56', 'mac=00:16:3e:12:34:57,bridge=xknbr0' ]",
    );
    expect(seen).toContain('NETCHECK-DONE');
    // DHCP hands out the host's resolver; 10.0.2.3 answers too (below).
    expect(seen).toMatch(/DHCP\[ip=10\.0\.2\.15 router=10\.0\.2\.2 dns=192\.0\.2\.2\]/);
    // passt 0.0~git20230309 repeats or never closes replies to a connection the guest half-closed
    // first (see user-net.ts); the probe half-closes, so the connection is checked here (within
    // three tries of ten seconds), not the integrity of its stream.
    expect(seen).toContain('OUTSIDE[OUTSIDE-OK');
    expect(seen).toMatch(/DNS\[.*probe\.test.*192\.0\.2\.2/);
    expect(seen).toContain('LOOPBACK[]');
    expect(seen).not.toContain('SECRET-LOOPBACK');
  });
});
