/**
 * The two scripts a test VM runs. Stage 1 is the initramfs's /init (busybox): it mounts the host's
 * / over 9p read-only under a tmpfs overlay (so the guest can write anywhere without touching the
 * host), mounts the job directory, and switches root to run stage 2 with the host's own bash.
 * Stage 2 is generated per job: it prepares /dev, /tmp and device-mapper, starts the Xen daemons
 * in Xen mode, runs the command with its output going to the job directory, and powers off.
 */

/** Where the job directory appears inside the VM. */
export const VM_JOB_DIR = '/run/xenkit-vm';

// Kernel arguments cannot carry the 9p mount options: under Xen the dom0 command line travels in
// QEMU's multiboot module list, where a comma starts the next module. So stage 1 mounts by hand.
/** The initramfs's /init. */
export const STAGE1_INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
fail() { echo "xenkit-vm: stage 1: $*"; echo 1 > /proc/sys/kernel/sysrq; echo o > /proc/sysrq-trigger; sleep 60; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "xenkit-vm: stage 1 at $(cut -d' ' -f1 /proc/uptime) s"
for m in $(cat /modules/order); do insmod "/modules/$m" || echo "xenkit-vm: insmod $m failed"; done
opts=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o "$opts,ro" hostroot /lower || fail "cannot mount the host root"
mount -t tmpfs -o mode=0755 upper /upper
mkdir -p /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work overlay /newroot || fail "overlay"
mount -t tmpfs -o mode=0755 run /newroot/run
mkdir -p /newroot${VM_JOB_DIR}
mount -t 9p -o "$opts" xkjob /newroot${VM_JOB_DIR} || fail "cannot mount the job directory"
for d in dev proc sys; do mount --move /$d /newroot/$d; done
exec switch_root /newroot /bin/bash ${VM_JOB_DIR}/stage2.sh
`;

/** What stage 2 needs to know. */
export interface Stage2Options {
  kind: 'linux' | 'xen';
  /** Bash source of the job (the command, already quoted, or the caller's script). */
  body: string;
  env: Record<string, string>;
  cwd: string;
}

/** Quotes `value` for bash. */
export function quoteShell(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

const XEN_SETUP = `
# Xen dom0: what /etc/init.d/xen does, minus the init system.
modprobe -a xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-blkback xen-netback bridge 2>/dev/null
mountpoint -q /proc/xen || mount -t xenfs xenfs /proc/xen
mkdir -p -m 700 /run/xen
mkdir -p /run/xenstored /var/log/xen /var/lib/xen /var/run/xen
XEN_BIN=/usr/lib/xen-4.17/bin
echo "xenkit-vm: xen modules loaded at $(cut -d' ' -f1 /proc/uptime) s"
$XEN_BIN/xenstored --pid-file /run/xenstore.pid || echo "xenkit-vm: xenstored failed"
$XEN_BIN/xen-init-dom0 || echo "xenkit-vm: xen-init-dom0 failed"
mkdir -p /var/log/xen/console
$XEN_BIN/xenconsoled --pid-file /run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console || echo "xenkit-vm: xenconsoled failed"
`;

/** The per-job stage 2 script. */
export function renderStage2(options: Stage2Options): string {
  const exports = Object.entries(options.env)
    .map(([k, v]) => `export ${k}=${quoteShell(v)}`)
    .join('\n');
  return `#!/bin/bash
J=${VM_JOB_DIR}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb
echo 1 > /proc/sys/kernel/sysrq
# A task stuck in the kernel for 120 s is a hang, not TCG being slow: panic (panic=-1 then ends
# the VM at once instead of at the test's timeout) and replay the kernel log on the console at
# the panic, so the blocked tasks' stacks (printed at a level the console hides) are seen.
echo 120 > /proc/sys/kernel/hung_task_timeout_secs
echo 1 > /proc/sys/kernel/hung_task_panic
echo 32 > /proc/sys/kernel/panic_print
# /tmp stays the host's (under the overlay): the checkout or a cache may live there.
mkdir -p /dev/pts /dev/shm /run/lock /run/lvm
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
# devtmpfs has no fd links; Xen's block hotplug script loops forever without them.
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
echo "xenkit-vm: stage 2 at $(cut -d' ' -f1 /proc/uptime) s"
hostname xenkit-vm
ip link set lo up 2>/dev/null
# udev as on a real host: LVM waits for it to make /dev/VG/LV, and it loads the disk drivers.
# Only block devices are replayed: a full trigger costs ~13 s under TCG.
modprobe -a virtio_blk dm_mod dm_thin_pool loop 2>/dev/null
/lib/systemd/systemd-udevd --daemon --resolve-names=never
udevadm trigger --action=add --subsystem-match=block
udevadm settle --timeout=60
echo "xenkit-vm: udev settled at $(cut -d' ' -f1 /proc/uptime) s"
${options.kind === 'xen' ? XEN_SETUP : ''}
echo "xenkit-vm: ready after $(cut -d' ' -f1 /proc/uptime) s"
${exports}
cd ${quoteShell(options.cwd)} || cd /
( ${options.body}
) > $J/stdout 2> $J/stderr < /dev/null
echo $? > $J/exit-code.tmp
mv $J/exit-code.tmp $J/exit-code
sync
echo "xenkit-vm: done after $(cut -d' ' -f1 /proc/uptime) s"
echo o > /proc/sysrq-trigger
sleep 60
`;
}
