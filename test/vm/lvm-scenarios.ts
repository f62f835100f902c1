/**
 * The bash script the LVM VM test runs: every scenario in one boot (a boot costs ~10-20 s under
 * TCG). Each scenario reports facts as `@@ key=value` lines and its wall time as
 * `@@ time.NAME=SECONDS`; the test reads them back with parseFacts.
 */

/** Where things are inside the VM. */
export interface LvmScenarioInputs {
  /** The repository (host path, visible in the VM). */
  repo: string;
  /** A bookworm root tree as a tarball (host path). */
  tarball: string;
  /** The main scratch disk (VG vg0, thin pool vg0/pool0) and the small one for the wipe check. */
  mainDisk: string;
  wipeDisk: string;
  /** The string written all over a removed volume, which no new guest may show. */
  marker: string;
}

/** Facts reported by the script, by key. */
export function parseFacts(stdout: string): Map<string, string> {
  const facts = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^@@ ([\w.-]+)=(.*)$/.exec(line);
    if (m) facts.set(m[1]!, m[2]!);
  }
  return facts;
}

/** The whole scenario script. */
export function renderLvmScenarios(inputs: LvmScenarioInputs): string {
  const { repo, tarball, mainDisk, wipeDisk, marker } = inputs;
  return String.raw`
set -u
REPO=${repo}
ROOT=/tmp/xk
# The job directory: logs there can be watched from the host while the VM runs.
LOGS=/run/xenkit-vm
mkdir -p $ROOT/etc/xen $ROOT/etc/xen-tools /mnt/check
printf 'Correct-Horse-7-Battery\n' > $ROOT/pw
# A bind mount: xenkit wants a plain file, and a copy would cost RAM and time.
touch $ROOT/tree.tar && mount --bind ${tarball} $ROOT/tree.tar
fact() { echo "@@ $1=$2"; }
T0=0
begin() { T0=$(date +%s.%N); echo "=== $1"; }
end() { fact "time.$1" "$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $T0}")"; }
create() {
  node $REPO/bin/xen-create-image.js --root=$ROOT --password-file=/pw --dhcp --install-method=tar \
    --install-source=/tree.tar --dist=bookworm "$@"
}
lvnames() { lvs --noheadings -o lv_name "$1" | tr -d ' ' | sort | paste -sd, -; }
xenkit() { node $REPO/bin/xenkit.js "$@" --root=$ROOT; }
# An apt-get for the small tree (no apt, no libc, no network in the VM): a script run by a static
# busybox that records how xen-update-image ran it, and answers like apt-get upgrade.
fake_apt() {
  cp /bin/busybox $1/usr/local/busybox
  printf '%s\n' '#!/usr/local/busybox sh' \
    'echo "args $*" >> /var/log/fake-apt.log' \
    '[ -x /usr/sbin/policy-rc.d ] && echo policy-rc.d >> /var/log/fake-apt.log' \
    '[ -r /proc/self/stat ] && echo proc >> /var/log/fake-apt.log' \
    'echo "0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded."' > $1/usr/bin/apt-get
  chmod 755 $1/usr/bin/apt-get
}
vuuid() { blkid -p -o value -s UUID "$1"; }

begin setup
pvcreate -q ${mainDisk} ${wipeDisk} && vgcreate -q vg0 ${mainDisk} && vgcreate -q vgw ${wipeDisk} \
  && lvcreate -q --type thin-pool -L 400M -n pool0 vg0
fact setup.exit $?
end setup

begin thick
create --hostname=web1 --lvm=vg0 --size=256M --swap=32M > $LOGS/thick.out 2>&1
fact thick.exit $?
tail -3 $LOGS/thick.out
fact thick.lvs "$(lvnames vg0)"
fact thick.segtype "$(lvs --noheadings -o segtype vg0/web1-disk | tr -d ' ')"
fact thick.fstype "$(blkid -o value -s TYPE /dev/vg0/web1-disk)"
fact thick.uuid "$(blkid -o value -s UUID /dev/vg0/web1-disk)"
fact thick.swaptype "$(blkid -o value -s TYPE /dev/vg0/web1-swap)"
fact thick.cfgdisk "$(grep -o "phy:[^']*" $ROOT/etc/xen/web1.cfg | paste -sd' ' -)"
mount -o ro /dev/vg0/web1-disk /mnt/check && {
  fact thick.hostname "$(cat /mnt/check/etc/hostname)"
  fact thick.fstab "$(grep -c "UUID=$(blkid -o value -s UUID /dev/vg0/web1-disk)" /mnt/check/etc/fstab)"
  umount /mnt/check
}
end thick

begin thin
create --hostname=thin1 --lvm=vg0 --lvm_thin=pool0 --size=256M --swap=32M > $LOGS/thin.out 2>&1
fact thin.exit $?
tail -3 $LOGS/thin.out
fact thin.pool "$(lvs --noheadings -o pool_lv vg0/thin1-disk | tr -d ' ')"
fact thin.swappool "$(lvs --noheadings -o pool_lv vg0/thin1-swap | tr -d ' ')"
fact thin.fstype "$(blkid -o value -s TYPE /dev/vg0/thin1-disk)"
mount -o ro /dev/vg0/thin1-disk /mnt/check && {
  fact thin.hostname "$(cat /mnt/check/etc/hostname)"
  umount /mnt/check
}
end thin

begin wipe
lvcreate -q -y -l 100%FREE -n old vgw
size=$(blockdev --getsize64 /dev/vgw/old)
yes ${marker} | head -c $size > /dev/vgw/old; sync
fact wipe.written "$(grep -a -c ${marker} /dev/vgw/old)"
lvremove -q -y vgw/old
create --hostname=wipe1 --lvm=vgw --size=80M --swap=32M > $LOGS/wipe.out 2>&1
fact wipe.exit $?
tail -3 $LOGS/wipe.out
fact wipe.disk "$(grep -a -c ${marker} /dev/vgw/wipe1-disk)"
fact wipe.swap "$(grep -a -c ${marker} /dev/vgw/wipe1-swap)"
fact wipe.free "$(vgs --noheadings --units m -o vg_free vgw | tr -d ' ')"
end wipe

begin update
mount /dev/vg0/web1-disk /mnt/check && { mkdir -p /mnt/check/usr/local; fake_apt /mnt/check; umount /mnt/check; }
node $REPO/bin/xen-update-image.js --root=$ROOT --lvm=vg0 web1 > $LOGS/update.out 2>&1
fact update.exit $?
tail -3 $LOGS/update.out
fact update.said "$(grep -c 'Updated web1 (/dev/vg0/web1-disk): 0 upgraded' $LOGS/update.out)"
fact update.open "$(lvs --noheadings -o lv_attr vg0/web1-disk | tr -d ' ' | cut -c6)"
mount -o ro /dev/vg0/web1-disk /mnt/check && {
  fact update.ran "$(paste -sd'|' /mnt/check/var/log/fake-apt.log)"
  fact update.policy "$(test -e /mnt/check/usr/sbin/policy-rc.d && echo left || echo gone)"
  umount /mnt/check
}
fact update.mounts "$(grep -c xenkit-tree /proc/mounts)"
end update

begin resize
mount /dev/vg0/web1-disk /mnt/check && { echo ${marker}-keep > /mnt/check/root/keep.txt; umount /mnt/check; }
SWAPUUID=$(vuuid /dev/vg0/web1-swap)
xenkit resize-image web1 --size=384M --swap=64M > $LOGS/resize.out 2>&1
fact resize.exit $?
tail -3 $LOGS/resize.out
fact resize.lvsize "$(lvs --noheadings --units b --nosuffix -o lv_size vg0/web1-disk | tr -d ' ')"
fact resize.swapsize "$(lvs --noheadings --units b --nosuffix -o lv_size vg0/web1-swap | tr -d ' ')"
fact resize.swapuuid "$(test "$(vuuid /dev/vg0/web1-swap)" = "$SWAPUUID" && echo same || echo changed)"
fact resize.fsbytes "$(dumpe2fs -h /dev/vg0/web1-disk 2>/dev/null | awk -F: '/^Block count/{c=$2} /^Block size/{s=$2} END{print c*s}')"
e2fsck -f -n /dev/vg0/web1-disk > /dev/null 2>&1
fact resize.fsck $?
mount -o ro /dev/vg0/web1-disk /mnt/check && { fact resize.keep "$(cat /mnt/check/root/keep.txt)"; umount /mnt/check; }
end resize

begin force-fail
OLDUUID=$(vuuid /dev/vg0/web1-disk)
# A failure once the new volumes are made and filled (the last step before the swap-in).
(export XENKIT_FAILPOINT=install.cleanup; create --hostname=web1 --lvm=vg0 --size=96M --swap=32M --force) > $LOGS/force-fail.out 2>&1
fact force-fail.exit $?
tail -3 $LOGS/force-fail.out
fact force-fail.made "$(grep -c '✔ Make the ext4 disk /dev/vg0/web1-disk' $LOGS/force-fail.out)"
fact force-fail.lvs "$(lvnames vg0)"
fact force-fail.uuid "$(test "$(vuuid /dev/vg0/web1-disk)" = "$OLDUUID" && echo same || echo changed)"
fact force-fail.size "$(lvs --noheadings --units m --nosuffix -o lv_size vg0/web1-disk | tr -d ' ')"
mount -o ro /dev/vg0/web1-disk /mnt/check && { fact force-fail.keep "$(cat /mnt/check/root/keep.txt)"; umount /mnt/check; }
end force-fail

begin force-ok
create --hostname=web1 --lvm=vg0 --size=96M --swap=32M --force > $LOGS/force-ok.out 2>&1
fact force-ok.exit $?
tail -3 $LOGS/force-ok.out
fact force-ok.lvs "$(lvnames vg0)"
fact force-ok.uuid "$(test "$(vuuid /dev/vg0/web1-disk)" = "$OLDUUID" && echo same || echo changed)"
fact force-ok.size "$(lvs --noheadings --units m --nosuffix -o lv_size vg0/web1-disk | tr -d ' ')"
mount -o ro /dev/vg0/web1-disk /mnt/check && {
  fact force-ok.fstab "$(grep -c "UUID=$(vuuid /dev/vg0/web1-disk)" /mnt/check/etc/fstab)"
  umount /mnt/check
}
end force-ok

begin delete
node $REPO/bin/xen-delete-image.js --root=$ROOT --lvm=vg0 --dry-run web1 > $LOGS/delete-dry.out 2>&1
fact delete.dry-exit $?
fact delete.dry-said "$(grep -c 'Would remove LVM \(disk\|swap\) volume /dev/vg0/web1-' $LOGS/delete-dry.out)"
fact delete.dry-lvs "$(lvnames vg0)"
mount -o ro /dev/vg0/web1-disk /mnt/check
node $REPO/bin/xen-delete-image.js --root=$ROOT --lvm=vg0 web1 > $LOGS/delete-busy.out 2>&1
fact delete.busy-exit $?
fact delete.busy-said "$(grep -c 'vg0/web1-disk is in use' $LOGS/delete-busy.out)"
umount /mnt/check
node $REPO/bin/xen-delete-image.js --root=$ROOT --lvm=vg0 web1 > $LOGS/delete.out 2>&1
fact delete.exit $?
cat $LOGS/delete.out
fact delete.lvs "$(lvnames vg0)"
fact delete.cfg "$(test -e $ROOT/etc/xen/web1.cfg && echo left || echo gone)"
end delete

begin rollback-space
create --hostname=big1 --lvm=vg0 --size=50G --swap=64M > $LOGS/big.out 2>&1
fact rollback-space.exit $?
fact rollback-space.refused "$(grep -c 'volume group "vg0" has .* free, the guest needs' $LOGS/big.out)"
fact rollback-space.made "$(grep -c '✔ Make the ext4 disk' $LOGS/big.out)"
fact rollback-space.installed "$(grep -c '✔ Install' $LOGS/big.out)"
tail -3 $LOGS/big.out
fact rollback-space.lvs "$(lvnames vg0)"
end rollback-space

begin rollback-late
(export XENKIT_FAILPOINT=install.cleanup; create --hostname=late1 --lvm=vg0 --size=128M --swap=32M) > $LOGS/late.out 2>&1
fact rollback-late.exit $?
tail -3 $LOGS/late.out
fact rollback-late.made "$(grep -c '✔ Make the ext4 disk /dev/vg0/late1-disk' $LOGS/late.out)"
fact rollback-late.lvs "$(lvnames vg0)"
end rollback-late

begin kill
# Killed outright (SIGKILL) once the disk volume is made: the next create of the name finds the
# dead run's journal, removes the half-made volume and succeeds. Empty filesystems (--install=0):
# the volumes are what this is about, and an install would double the scenario's time.
bare() { node $REPO/bin/xen-create-image.js --root=$ROOT --dhcp --install=0 --lvm=vg0 --size=64M --swap=32M "$@"; }
XENKIT_FAILPOINT=storage.disk:kill bare --hostname=kill1 > $LOGS/kill.out 2>&1
fact kill.exit $?
fact kill.lvs "$(lvnames vg0)"
fact kill.journals "$(ls $ROOT/var/lib/xenkit/runs | wc -l)"
bare --hostname=kill1 > $LOGS/kill-next.out 2>&1
fact kill.next-exit $?
tail -3 $LOGS/kill-next.out
fact kill.said "$(grep -c 'cleaned up after an interrupted run (pid [0-9]*, create-image kill1): .*removed logical volume vg0/kill1-disk' $LOGS/kill-next.out)"
fact kill.next-lvs "$(lvnames vg0)"
fact kill.next-journals "$(ls $ROOT/var/lib/xenkit/runs | wc -l)"
fact kill.mounts "$(grep -cE 'xenkit-tree|var/lib/xenkit' /proc/mounts)"
xenkit delete-image kill1 > $LOGS/kill-delete.out 2>&1
fact kill.deleted $?
end kill

begin thin-delete
xenkit delete-image thin1 > $LOGS/thin-delete.out 2>&1
fact thin-delete.exit $?
cat $LOGS/thin-delete.out
fact thin-delete.lvs "$(lvnames vg0)"
end thin-delete

begin parts
# A xen-tools layout: one volume per section (HOSTNAME-SECTION), each formatted with its type and
# mounted by UUID; a run failing after all of them were made removes them all.
mkdir -p $ROOT/etc/xen-tools/partitions.d
printf '%s\n' '[root]' 'size=96M' 'type=ext4' 'mountpoint=/' '[swap]' 'size=32M' 'type=swap' \
  '[swap2]' 'size=16M' 'type=swap' '[home]' 'size=300M' 'type=xfs' 'mountpoint=/home' 'options=nodev' \
  '[var]' 'size=48M' 'type=ext4' 'mountpoint=/var' > $ROOT/etc/xen-tools/partitions.d/small
# The failing run leaves the filesystems empty (--install=0): the volumes are what it is about.
(export XENKIT_FAILPOINT=install.cleanup; node $REPO/bin/xen-create-image.js --root=$ROOT --dhcp --install=0 \
  --lvm=vg0 --hostname=part1 --partitions=small) > $LOGS/parts-fail.out 2>&1
fact parts.fail-exit $?
fact parts.fail-made "$(grep -c '✔ Make the xfs volume /dev/vg0/part1-home' $LOGS/parts-fail.out)"
fact parts.fail-lvs "$(lvnames vg0)"
create --hostname=part1 --lvm=vg0 --partitions=small > $LOGS/parts.out 2>&1
fact parts.exit $?
tail -3 $LOGS/parts.out
fact parts.lvs "$(lvnames vg0)"
fact parts.types "$(for v in root home var swap swap2; do blkid -o value -s TYPE /dev/vg0/part1-$v; done | paste -sd, -)"
fact parts.cfgdisk "$(grep -o "phy:[^']*" $ROOT/etc/xen/part1.cfg | paste -sd' ' -)"
fact parts.root "$(grep -o "^root .*" $ROOT/etc/xen/part1.cfg)"
mount -o ro /dev/vg0/part1-root /mnt/check && {
  fact parts.fstab "$(grep -v '^#' /mnt/check/etc/fstab | awk '{print $1" "$2" "$3" "$4}' | paste -sd'|' -)"
  fact parts.rootvar "$(ls -A /mnt/check/var | wc -l)"
  umount /mnt/check
}
fact parts.uuids "$(for v in root var home swap swap2; do vuuid /dev/vg0/part1-$v; done | paste -sd' ' -)"
mount -o ro /dev/vg0/part1-var /mnt/check && { fact parts.vardpkg "$(test -d /mnt/check/lib/dpkg && echo yes || echo no)"; umount /mnt/check; }
xenkit delete-image part1 > $LOGS/parts-delete.out 2>&1
fact parts.deleted $?
fact parts.after-delete "$(lvnames vg0)"
end parts
`;
}
