/**
 * The HVM part of the Xen VM test's dom0 script (run after the pv and pvh scenarios, reusing
 * their setup): xen-create-image --type=hvm builds a whole-disk guest whose /boot holds the
 * Debian kernel and a busybox ramdisk (xen-hvm-guest.ts), real `xl create -n` reads its cfg, and
 * `xm create` starts it through hvmloader and SeaBIOS, with qemu-system-xen as the device model in
 * dom0; extlinux (from the guest's MBR and partition 1) loads the kernel and ramdisk its
 * extlinux.conf names, and the guest boots to a getty's login prompt on its serial port.
 * Facts come back as `@@ key=value` lines, with the seconds to each milestone of the boot.
 */

import { HVM_GUEST_UP_MARKER } from './xen-hvm-guest.js';

/** The scenario script; expects the main script's helpers (begin, end, fact, bindfile, xm, $ROOT). */
export function renderXenHvmScenario(initramfs: string): string {
  return String.raw`
begin hvm
bindfile hvm-guest.cpio.gz ${initramfs}
# The device model's emulated NIC is a tap device on the bridge.
modprobe tun
# The device model reads its option ROMs (VGA, NIC) straight into guest memory mapped from Xen,
# which a read from the host's 9p root cannot fill (zero-copy into foreign pages fails: "failed
# to load romfile"): copied up into the tmpfs overlay, they are read like any file.
for f in /usr/share/seabios/* /usr/lib/ipxe/qemu/*; do cp "$f" /tmp/rom && cat /tmp/rom > "$f"; done
# The guest's own kernel and ramdisk under /boot of its tree, as a kernel package puts them.
mkdir -p /tmp/hvm-boot/boot && cp $ROOT/vmlinuz /tmp/hvm-boot/boot/vmlinuz-6.1.0-hvm \
  && cp $ROOT/hvm-guest.cpio.gz /tmp/hvm-boot/boot/initrd.img-6.1.0-hvm
cp $ROOT/tree.tar $ROOT/hvm-tree.tar && tar -rf $ROOT/hvm-tree.tar -C /tmp/hvm-boot ./boot/vmlinuz-6.1.0-hvm ./boot/initrd.img-6.1.0-hvm
fact hvm.tree $?
node $REPO/bin/xen-create-image.js --hostname=xg3 --type=hvm --dir=/srv/xen --size=128M --noswap \
  --memory=256M --vcpus=1 --dhcp --install-method=tar --install-source=/hvm-tree.tar --dist=bookworm \
  --password-file=/pw > /run/xenkit-vm/create-hvm.out 2>&1
fact hvm.create $?
rm -f $ROOT/hvm-tree.tar
tail -3 /run/xenkit-vm/create-hvm.out
grep -v '^#' $ROOT/etc/xen/xg3.cfg | grep -v '^$'
fact hvm.device-model "$(test -x /usr/libexec/xen-qemu-system-i386; echo $?)"
timeout 60 xl create -n $ROOT/etc/xen/xg3.cfg > /tmp/xg3-dry.json 2>/tmp/xg3-dry.err
fact hvm.dryrun $?
fact hvm.dry "$(grep -o '"type": "hvm"' /tmp/xg3-dry.json | head -1)|$(grep -o '"boot": "c"' /tmp/xg3-dry.json | head -1)|$(grep -o '"vdev": "xvda"' /tmp/xg3-dry.json | head -1)"
tail -3 /tmp/xg3-dry.err
# The kernel's own messages quiet (added to the APPEND line of the guest's extlinux.conf, in
# partition 1 at 1 MiB): the emulated UART of the device model takes one trip through Xen and
# qemu per byte here, ~70 bytes/s, and the ~40 KB a Debian kernel prints at boot held the boot
# for over ten minutes (the kernel waits for its console: 180 s from the ramdisk loaded to the
# "Linux version" line, and then 83 s of the kernel's clock had printed ~5 KB). extlinux then
# prints no "Loading" lines either; the kernel's command line shows what it loaded.
HVM_LOOP=$(losetup -f --show -o 1048576 $ROOT/srv/xen/domains/xg3/disk.img) && mount $HVM_LOOP /mnt \
  && sed -i 's/^\( *APPEND .*\)$/\1 quiet/' /mnt/boot/extlinux/extlinux.conf && grep APPEND /mnt/boot/extlinux/extlinux.conf
fact hvm.quiet $?
umount /mnt; losetup -d $HVM_LOOP
# The same cfg with the serial port in a file, so the boot loader's and the guest's lines can be
# read back, and the disk on AHCI instead of IDE: SeaBIOS reads an IDE disk by PIO, a trip through
# Xen and the device model for every sector (~50 KB/s in this nested, emulated dom0: the 8 MB
# kernel alone took ~150 s), and an AHCI disk by DMA, one trip per 64 KB read of extlinux.
{ sed "s|^serial .*|serial = 'file:/run/xenkit-vm/xg3-serial.log'|" $ROOT/etc/xen/xg3.cfg; echo "hdtype = 'ahci'"; } > /tmp/xg3.cfg
HVM_T0=$(date +%s)
xm create /tmp/xg3.cfg
started=$?
fact hvm.start $started
# Seconds from xm create to each milestone on the serial console, up to the login prompt (325 s
# at load 8-10: SYSLINUX ~140 s, its kernel and ramdisk read in ~20 s by AHCI; at most 420
# polls, the whole VM test must stay under its timeout).
milestones() {
  local log=/run/xenkit-vm/xg3-serial.log seen="" i m key
  for i in $(seq 420); do
    for m in 'syslinux:SYSLINUX 6' 'up:${HVM_GUEST_UP_MARKER}' 'login:xg3 login:'; do
      key=$(echo "$m" | cut -d: -f1)
      case "$seen" in *"|$key|"*) continue ;; esac
      grep -q "$(echo "$m" | cut -d: -f2-)" $log 2>/dev/null && seen="$seen|$key|" && fact "hvm.at.$key" $(( $(date +%s) - HVM_T0 ))
    done
    case "$seen" in *"|login|"*) return 0 ;; esac
    sleep 1
  done
  return 1
}
[ $started = 0 ] && milestones
fact hvm.login $?
fact hvm.up "$(grep -a '${HVM_GUEST_UP_MARKER}' /run/xenkit-vm/xg3-serial.log | head -1 | tr -d '\r')"
tail -c 1500 /run/xenkit-vm/xg3-serial.log | tr -d '\r' | tail -15
fact hvm.syslinux "$(grep -c 'SYSLINUX 6' /run/xenkit-vm/xg3-serial.log 2>/dev/null)"
fact hvm.xltype "$(timeout 30 xl list -l xg3 | grep -o '"type": "[a-z]*"' | head -1)"
tail -5 /var/log/xen/qemu-dm-xg3.log
xl dmesg | tail -5
timeout 60 xl destroy xg3
fact hvm.destroy $?
end hvm
`;
}
