/**
 * The HVM part of the Xen VM test's dom0 script (run after the pv and pvh scenarios, reusing
 * their setup): xen-create-image --type=hvm builds a whole-disk guest whose /boot holds the
 * Debian kernel and the busybox ramdisk of xen-guest.ts, real `xl create -n` reads its cfg, and
 * `xm create` starts it through hvmloader and SeaBIOS, with qemu-system-xen as the device model in
 * dom0, until extlinux (from the guest's MBR and partition 1) loads the kernel its extlinux.conf
 * names. Facts come back as `@@ key=value` lines.
 */

/** The scenario script; expects the main script's helpers (begin, end, fact, wait_for, xm, $ROOT). */
export function renderXenHvmScenario(): string {
  return String.raw`
begin hvm
# The device model's emulated NIC is a tap device on the bridge.
modprobe tun
# The device model reads its option ROMs (VGA, NIC) straight into guest memory mapped from Xen,
# which a read from the host's 9p root cannot fill (zero-copy into foreign pages fails: "failed
# to load romfile"): copied up into the tmpfs overlay, they are read like any file.
for f in /usr/share/seabios/* /usr/lib/ipxe/qemu/*; do cp "$f" /tmp/rom && cat /tmp/rom > "$f"; done
# The guest's own kernel and ramdisk under /boot of its tree, as a kernel package puts them.
mkdir -p /tmp/hvm-boot/boot && cp $ROOT/vmlinuz /tmp/hvm-boot/boot/vmlinuz-6.1.0-hvm \
  && cp $ROOT/guest.cpio /tmp/hvm-boot/boot/initrd.img-6.1.0-hvm
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
# The same cfg with the serial port in a file, so the boot loader's lines can be read back.
sed "s|^serial .*|serial = 'file:/run/xenkit-vm/xg3-serial.log'|" $ROOT/etc/xen/xg3.cfg > /tmp/xg3.cfg
xm create /tmp/xg3.cfg
started=$?
fact hvm.start $started
# Up to extlinux loading the guest's kernel named in its extlinux.conf. Not further: SeaBIOS reads
# the disk by emulated IDE, each sector a trip through Xen and the device model in this nested,
# emulated dom0 (~50 KB/s): the 8 MB kernel alone took ~150 s, and the 20 MB ramdisk of
# xen-guest.ts would take 7 minutes more, past what this test may cost.
[ $started = 0 ] && wait_for /run/xenkit-vm/xg3-serial.log 'Loading /boot/vmlinuz-6.1.0-hvm' 1 180
fact hvm.loading $?
fact hvm.syslinux "$(grep -c 'SYSLINUX 6' /run/xenkit-vm/xg3-serial.log 2>/dev/null)"
fact hvm.xltype "$(timeout 30 xl list -l xg3 | grep -o '"type": "[a-z]*"' | head -1)"
tail -5 /var/log/xen/qemu-dm-xg3.log
timeout 60 xl destroy xg3
fact hvm.destroy $?
end hvm
`;
}
