/**
 * The HVM part of the Xen VM test's dom0 script, in two halves so the slow HVM boot overlaps the
 * pv and pvh scenarios instead of adding to them. renderXenHvmStart runs right after the setup:
 * the whole-disk guest that xen-create-image --type=hvm built on the host (xen-hvm-image.ts; its
 * /boot holds the Debian kernel and a busybox ramdisk, xen-hvm-guest.ts) is a disk of the VM, real
 * `xl create -n` reads its cfg, and `xm create` starts it through hvmloader and SeaBIOS, with
 * qemu-system-xen as the device model in dom0, on the nested Xen's second CPU (dom0 keeps the
 * first); a watcher in the background notes the seconds from `xm create` to each milestone on its
 * serial port. renderXenHvmCheck runs after the other scenarios: it waits for the watcher
 * (extlinux, from the guest's MBR and partition 1, loads the kernel and ramdisk its extlinux.conf
 * names, and the guest boots to a getty's login prompt) and reports. Facts come back as
 * `@@ key=value` lines.
 */

import { HVM_GUEST_UP_MARKER } from './xen-hvm-guest.js';

/** The serial port's log, in dom0's own file system (copied to the job directory at the end). */
const SERIAL_LOG = '/var/log/xen/xg3-serial.log';

/**
 * Seconds from `xm create` the watcher waits for the login prompt at most (325 s in a cut-down
 * run at load 8-10). The check waits for it, so this bounds the whole VM job too.
 */
const LOGIN_LIMIT_S = 660;

/**
 * The first half; expects the main script's helpers (begin, end, fact, xm, $ROOT). `cfg` is the
 * cfg xen-create-image wrote on the host (xen-hvm-image.ts), `disk` the VM's device of its image.
 */
export function renderXenHvmStart(cfg: string, disk: string): string {
  return String.raw`
begin hvm-start
# The device model's emulated NIC is a tap device on the bridge.
modprobe tun
# The device model reads its option ROMs (VGA, NIC) straight into guest memory mapped from Xen,
# which a read from the host's 9p root cannot fill (zero-copy into foreign pages fails: "failed
# to load romfile"): copied up into the tmpfs overlay, they are read like any file.
for f in /usr/share/seabios/* /usr/lib/ipxe/qemu/*; do cp "$f" /tmp/rom && cat /tmp/rom > "$f"; done
fact hvm.device-model "$(test -x /usr/libexec/xen-qemu-system-i386; echo $?)"
# The guest's cfg as xen-create-image wrote it, its image file now the VM's disk ${disk}.
sed -E "s#'file:[^,]*/disk\.img,#'phy:${disk},#" ${cfg} > $ROOT/etc/xen/xg3.cfg
grep -v '^#' $ROOT/etc/xen/xg3.cfg | grep -v '^$'
timeout 60 xl create -n $ROOT/etc/xen/xg3.cfg > /tmp/xg3-dry.json 2>/tmp/xg3-dry.err
fact hvm.dryrun $?
fact hvm.dry "$(grep -o '"type": "hvm"' /tmp/xg3-dry.json | head -1)|$(grep -o '"boot": "c"' /tmp/xg3-dry.json | head -1)|$(grep -o '"vdev": "xvda"' /tmp/xg3-dry.json | head -1)"
tail -3 /tmp/xg3-dry.err
# The same cfg with three changes for this nested, emulated machine:
# - the serial port in a file of dom0, so the boot loader's and the guest's lines can be read;
# - the disk on AHCI instead of IDE: SeaBIOS reads an IDE disk by PIO, a trip through Xen and the
#   device model for every sector (~50 KB/s here: the 8 MB kernel alone took ~150 s), and an AHCI
#   disk by DMA, one trip per 64 KB read of extlinux (xen-create-image does not write it: the
#   device model of Xen 4.17, QEMU 7.2, does not unplug AHCI disks when the guest's PV drivers
#   take over, so a Linux guest would see its disk twice, as sda and xvda);
# - its vCPU on the second CPU of the nested Xen (dom0 has the first), so its boot runs beside
#   the pv scenarios without taking dom0's CPU.
{ sed "s|^serial .*|serial = 'file:${SERIAL_LOG}'|" $ROOT/etc/xen/xg3.cfg; echo "hdtype = 'ahci'"; echo "cpus = '1'"; } > /tmp/xg3.cfg
# The device model and its libraries read once before: xl gives it 60 s to start, and read cold
# over 9p in a busy, emulated dom0 it can take longer (xl then destroys the guest).
DM=/usr/libexec/xen-qemu-system-i386
cat $DM $(ldd $DM | awk '$3 ~ /^\//{print $3}') > /dev/null
HVM_T0=$(date +%s)
xm create /tmp/xg3.cfg > /tmp/xg3-create.out 2>&1
fact hvm.start $?
fact hvm.start-s "$(( $(date +%s) - HVM_T0 ))"
cat /tmp/xg3-create.out
fact hvm.serial-file "$(test -e ${SERIAL_LOG}; echo $?)"
# Seconds from xm create to each milestone on the serial console, noted in the background (in
# the job directory, where they can be read while the VM runs).
hvm_watch() {
  local seen="" key pattern
  while [ $(( $(date +%s) - HVM_T0 )) -lt ${LOGIN_LIMIT_S} ]; do
    for key in syslinux up login; do
      case "$seen" in *"|$key|"*) continue ;; esac
      case $key in
        syslinux) pattern='SYSLINUX 6' ;;
        up) pattern='${HVM_GUEST_UP_MARKER}' ;;
        login) pattern='xg3 login:' ;;
      esac
      grep -qa "$pattern" ${SERIAL_LOG} 2>/dev/null && seen="$seen|$key|" \
        && echo "@@ hvm.at.$key=$(( $(date +%s) - HVM_T0 ))" && cp ${SERIAL_LOG} /run/xenkit-vm/
    done
    case "$seen" in *"|login|"*) return 0 ;; esac
    sleep 2
  done
  return 1
}
HVM_WATCH=""
if [ "$(domid xg3)" ]; then
  ( hvm_watch > /run/xenkit-vm/hvm-watch.out 2>&1; echo "@@ hvm.login=$?" >> /run/xenkit-vm/hvm-watch.out ) &
  HVM_WATCH=$!
else
  echo "@@ hvm.login=not started" > /run/xenkit-vm/hvm-watch.out
fi
end hvm-start
`;
}

/** The second half: waits for the watcher, reports, and destroys the guest. */
export function renderXenHvmCheck(): string {
  return String.raw`
begin hvm
fact hvm.wait-from "$(( $(date +%s) - HVM_T0 ))"
[ -z "$HVM_WATCH" ] || wait $HVM_WATCH
cat /run/xenkit-vm/hvm-watch.out
fact hvm.up "$(grep -a '${HVM_GUEST_UP_MARKER}' ${SERIAL_LOG} | head -1 | tr -d '\r')"
# The log ends in the login prompt, with no newline: the echo keeps the next fact on a line of its own.
tail -c 1500 ${SERIAL_LOG} | tr -d '\r' | tail -15; echo
fact hvm.syslinux "$(grep -c 'SYSLINUX 6' ${SERIAL_LOG} 2>/dev/null)"
fact hvm.xltype "$(timeout 30 xl list -l xg3 | grep -o '"type": "[a-z]*"' | head -1)"
timeout 30 xl vcpu-list xg3
tail -5 /var/log/xen/qemu-dm-xg3.log
xl dmesg | tail -5
cp ${SERIAL_LOG} /run/xenkit-vm/ 2>/dev/null
timeout 60 xl destroy xg3
fact hvm.destroy $?
end hvm
`;
}
