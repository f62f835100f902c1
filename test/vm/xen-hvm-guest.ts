/**
 * The ramdisk of the Xen VM test's HVM guest: busybox alone, gzip'd (~1 MB), with a getty on the
 * serial port. SeaBIOS and extlinux read it from the guest's disk through the device model, which
 * is slow in the nested, emulated dom0, so it holds nothing the login prompt does not need: the
 * 20 MB ramdisk of the pv guests (modules, detectors) would take minutes more to load.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { vmCacheDir } from './boot-files.js';
import { busyboxEntries, writeCpioNewc, type CpioEntry } from './cpio.js';

/** Printed on the HVM guest's serial console once its userspace runs. */
export const HVM_GUEST_UP_MARKER = 'xenkit-hvm-guest: up';

// extlinux.conf says console=hvc0 console=ttyS0: the last one is /dev/console, the serial port
// whose output the cfg's serial= sends to a file in dom0.
const INITTAB = `::sysinit:/etc/rc
ttyS0::respawn:/sbin/getty -L 115200 ttyS0 vt100
::ctrlaltdel:/sbin/reboot
`;

const RC = `#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
hostname xg3
echo "${HVM_GUEST_UP_MARKER} type=$(cat /sys/hypervisor/guest_type 2>/dev/null) cmdline=$(cat /proc/cmdline)"
`;

const APPLETS = ['sh', 'init', 'mount', 'cat', 'echo', 'hostname', 'getty', 'login', 'reboot', 'poweroff'];

/** Builds (or reuses) the HVM guest's gzip'd initramfs; returns its path. */
export function buildXenHvmGuestInitramfs(busybox = '/bin/busybox'): string {
  const busyboxData = fs.readFileSync(busybox);
  const key = createHash('sha256')
    .update(INITTAB)
    .update(RC)
    .update(APPLETS.join(' '))
    .update(busyboxData)
    .digest('hex')
    .slice(0, 16);
  const target = path.join(vmCacheDir(), `xen-hvm-guest-${key}.cpio.gz`);
  if (fs.existsSync(target)) return target;
  const entries: CpioEntry[] = [
    ...['bin', 'sbin', 'etc', 'dev', 'proc', 'sys', 'tmp'].map((name): CpioEntry => ({ kind: 'dir', name })),
    ...busyboxEntries({
      busybox: busyboxData,
      applets: APPLETS,
      sbin: ['init', 'getty', 'reboot', 'poweroff'],
      inittab: INITTAB,
      rc: RC,
    }),
    { kind: 'file', name: 'etc/passwd', data: Buffer.from('root:x:0:0:root:/:/bin/sh\n') },
  ];
  const temp = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(temp, gzipSync(writeCpioNewc(entries), { level: 9 }));
  fs.renameSync(temp, target);
  return target;
}
