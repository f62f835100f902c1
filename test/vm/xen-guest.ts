/**
 * The userspace of the Xen test guests: a busybox initramfs booted with the Debian kernel as cfg
 * `kernel`/`ramdisk`. busybox init handles what `xl shutdown`/`xl reboot` ask of a guest (the
 * kernel runs /sbin/poweroff or /sbin/reboot), a loop onlines vCPUs that `xl vcpu-set` hot-adds,
 * and the guest mounts its root disk read-only and prints what it finds to its console.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveModules, vmCacheDir, type GuestKernel } from './boot-files.js';
import { busyboxEntries, writeCpioNewc, type CpioEntry } from './cpio.js';

/** Printed on the guest console once its userspace runs. */
export const GUEST_UP_MARKER = 'xenkit-guest: up';
/** Around the base64 tar.gz of the guest's detect capture (scripts/capture-detect.sh) on its console. */
export const DETECT_CAPTURE_BEGIN = 'xenkit-guest: detect capture begin';
export const DETECT_CAPTURE_END = 'xenkit-guest: detect capture end';
const CAPTURE_SCRIPT = fileURLToPath(new URL('../../scripts/capture-detect.sh', import.meta.url));

const INITTAB = `::sysinit:/etc/rc
hvc0::respawn:-/bin/sh
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/echo xenkit-guest: going down
`;

// rc writes to hvc0 itself: a PVH guest's /dev/console is not the Xen console unless the
// kernel command line says console=hvc0, and xenkit's cfg does not.
const RC = `#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
[ -c /dev/hvc0 ] && exec > /dev/hvc0 2>&1
for m in $(cat /modules/order); do insmod "/modules/$m" 2>/dev/null; done
sleep 1
for d in /dev/xvda2 /dev/xvda /dev/xvda1; do
  [ -b $d ] && mount -o ro -t ext4 $d /mnt 2>/dev/null && break
done
echo "xenkit-guest: root hostname=$(cat /mnt/etc/hostname 2>/dev/null) type=$(cat /sys/hypervisor/guest_type 2>/dev/null)"
# Hot-added vCPUs arrive offline; nothing else here would bring them up.
( while :; do
    for c in /sys/devices/system/cpu/cpu*/online; do
      [ -f $c ] && [ "$(cat $c)" = 0 ] && echo 1 > $c
    done
    sleep 1
  done ) &
# Only when the kernel command line asks (the cfg's extra): what \`xenkit detect\` reads, captured
# by scripts/capture-detect.sh and printed as base64 between markers, for dom0 to replay with
# --probe-root (this guest has no node). The test fixtures of pv and pvh guests come from here.
if grep -qw xenkit.detect-capture /proc/cmdline && mkdir -p /tmp/cap && sh /capture-detect.sh /tmp/cap >/dev/null 2>&1; then
  echo "${DETECT_CAPTURE_BEGIN}"
  tar -C /tmp/cap -czf - . | base64
  echo "${DETECT_CAPTURE_END}"
fi
echo "${GUEST_UP_MARKER} cpus=$(nproc)"
`;

/**
 * The other detectors, so the capture records their answers in the guest itself (systemd-detect-virt
 * and virt-what only read the live machine): the host's binaries with the libraries ldd names,
 * at the same paths. Missing ones are left out (the capture then records nothing for them).
 */
const DETECTORS = [
  '/usr/bin/systemd-detect-virt',
  '/usr/sbin/virt-what',
  '/usr/libexec/virt-what-cpuid-helper',
  '/usr/sbin/dmidecode',
];

function withLibraries(files: string[]): string[] {
  const all = new Set<string>();
  for (const file of files.filter((f) => fs.existsSync(f))) {
    all.add(file);
    let out: string;
    try {
      out = execFileSync('ldd', [file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      continue; // a script: "not a dynamic executable"
    }
    for (const m of out.matchAll(/(\/\S+) \(0x[0-9a-f]+\)/g)) all.add(m[1]!);
  }
  return [...all].sort();
}

/** Directory entries for every parent of `files` (relative), parents first, none of `skip`. */
function parentDirs(files: string[], skip: Set<string>): CpioEntry[] {
  const dirs = new Set<string>();
  for (const f of files) {
    for (let d = path.dirname(f); d !== '.' && d !== '/'; d = path.dirname(d)) dirs.add(d);
  }
  return [...dirs]
    .filter((d) => !skip.has(d))
    .sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b))
    .map((name): CpioEntry => ({ kind: 'dir', name }));
}

/** Builds (or reuses) the guest initramfs for `kernel`; returns its path. */
export function buildXenGuestInitramfs(kernel: GuestKernel, busybox = '/bin/busybox'): string {
  // ext4 needs crc32c through a softdep, which modules.dep does not list.
  const modules = resolveModules(kernel.version, ['xen-blkfront', 'crc32c_generic', 'ext4', 'cpuid']);
  const busyboxData = fs.readFileSync(busybox);
  const capture = fs.readFileSync(CAPTURE_SCRIPT);
  const detectors = withLibraries(DETECTORS).map((f) => ({ name: f.slice(1), data: fs.readFileSync(f) }));
  const key = createHash('sha256')
    .update(kernel.version)
    .update(INITTAB)
    .update(RC)
    .update(busyboxData)
    .update(capture)
    .update(modules.join('\n'))
    .update(detectors.map((d) => `${d.name} ${createHash('sha256').update(d.data).digest('hex')}`).join('\n'))
    .digest('hex')
    .slice(0, 16);
  const target = path.join(vmCacheDir(), `xen-guest-${kernel.version}-${key}.cpio`);
  if (fs.existsSync(target)) return target;
  const modDir = path.join('/lib/modules', kernel.version);
  const applets = [
    'sh',
    'init',
    'poweroff',
    'reboot',
    'halt',
    'mount',
    'insmod',
    'sleep',
    'cat',
    'echo',
    'nproc',
    // scripts/capture-detect.sh and the capture's transport
    'mkdir',
    'dirname',
    'rm',
    'rmdir',
    'sed',
    'grep',
    'tr',
    'printf',
    'dd',
    'od',
    'dmesg',
    '[',
    'tar',
    'gzip',
    'base64',
    // virt-what (a /bin/sh script)
    'uname',
    'id',
    'which',
    'head',
    'tail',
    'cut',
    'sysctl',
    'test',
  ];
  const topDirs = ['bin', 'sbin', 'etc', 'dev', 'proc', 'sys', 'mnt', 'modules', 'tmp'];
  const entries: CpioEntry[] = [
    ...topDirs.map((name): CpioEntry => ({ kind: 'dir', name })),
    ...parentDirs(
      detectors.map((d) => d.name),
      new Set(topDirs),
    ),
    ...detectors.map((d): CpioEntry => ({ kind: 'file', name: d.name, data: d.data, mode: 0o755 })),
    ...busyboxEntries({
      busybox: busyboxData,
      applets,
      sbin: ['init', 'poweroff', 'reboot', 'halt'],
      inittab: INITTAB,
      rc: RC,
    }),
    { kind: 'file', name: 'capture-detect.sh', data: capture, mode: 0o755 },
    {
      kind: 'file',
      name: 'modules/order',
      data: Buffer.from(modules.map((m) => path.basename(m)).join('\n')),
    },
    ...modules.map((m): CpioEntry => ({
      kind: 'file',
      name: `modules/${path.basename(m)}`,
      data: fs.readFileSync(path.join(modDir, m)),
    })),
  ];
  const temp = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(temp, writeCpioNewc(entries));
  fs.renameSync(temp, target);
  return target;
}
