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

begin backup
# xenkit backup of the thick LVM guest web1 (stopped): read from the volumes, all-zero chunks
# stored as nothing; a second backup after a change stores only the changed chunks; restored to
# image files under a second root (bytes compared with the volume). Then the running-guest path
# on a cfg naming web1's small swap volume alone (one volume: no pause; 32 MiB to read under
# TCG): an LVM snapshot is read and removed, also when the read is cancelled.
ROOT2=/tmp/xk2; mkdir -p $ROOT2/etc/xen
bk() { (cd /tmp && node $REPO/bin/xenkit.js backup "$@" --repo=xkbk); }
jget() { node -e 'const o = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(eval("o." + process.argv[1]))' "$1"; }
bk create web1 --root=$ROOT --json > $LOGS/backup1.json 2> $LOGS/backup1.err
fact backup.exit1 $?
tail -3 $LOGS/backup1.err
fact backup.disk1 "$(jget 'snapshots[0].disks.map(d => [d.target, d.size, d.chunks, d.zeroChunks, d.readBytes].join(":")).join(" ")' < $LOGS/backup1.json)"
fact backup.lvsize "$(blockdev --getsize64 /dev/vg0/web1-disk)"
mount /dev/vg0/web1-disk /mnt/check && { head -c 3M /dev/urandom > /mnt/check/root/change.bin; umount /mnt/check; }
bk create web1 --root=$ROOT --json > $LOGS/backup2.json 2> $LOGS/backup2.err
fact backup.exit2 $?
tail -3 $LOGS/backup2.err
fact backup.new2 "$(jget 'snapshots[0].newChunks' < $LOGS/backup2.json)"
fact backup.cache2 "$(jget 'snapshots[0].disks.map(d => d.isCacheHit).join(",")' < $LOGS/backup2.json)"
bk restore web1 --root=$ROOT2 --dir=/srv/xen > $LOGS/backup-restore.out 2>&1
fact backup.restore-exit $?
tail -4 $LOGS/backup-restore.out
fact backup.same-disk "$(test "$(sha256sum < /dev/vg0/web1-disk)" = "$(sha256sum < $ROOT2/srv/xen/domains/web1/disk.img)" && echo yes || echo no)"
fact backup.restored-kib "$(du -k $ROOT2/srv/xen/domains/web1/disk.img | cut -f1)"
fact backup.restored-cfg "$(grep -o "file:[^']*" $ROOT2/etc/xen/web1.cfg | paste -sd' ' -)"
# restore --lvm: never over volumes that exist (web1's own: refused, nothing made); --as web1c
# makes web1c-disk and web1c-swap, a copy with its own identity (so its bytes differ: compared
# by a file's SHA-256 and the filesystem UUIDs).
bk restore web1 --root=$ROOT2 --lvm=vg0 > $LOGS/restore-lvm-same.out 2>&1
fact restore-lvm.same-exit $?
fact restore-lvm.same-lvs "$(lvnames vg0)"
bk restore web1 --root=$ROOT2 --lvm=vg0 --as=web1c > $LOGS/restore-lvm.out 2>&1
fact restore-lvm.exit $?
tail -4 $LOGS/restore-lvm.out
fact restore-lvm.lvs "$(lvnames vg0)"
fact restore-lvm.cfg "$(grep -o "phy:[^']*" $ROOT2/etc/xen/web1c.cfg | paste -sd' ' -)"
fact restore-lvm.types "$(blkid -p -o value -s TYPE /dev/vg0/web1c-disk),$(blkid -p -o value -s TYPE /dev/vg0/web1c-swap)"
fact restore-lvm.uuids "$(test "$(vuuid /dev/vg0/web1c-disk)" = "$(vuuid /dev/vg0/web1-disk)" && echo same || echo new)"
mount -o ro /dev/vg0/web1-disk /mnt/check && { ORIG=$(sha256sum < /mnt/check/root/change.bin); umount /mnt/check; }
mount -o ro /dev/vg0/web1c-disk /mnt/check && {
  fact restore-lvm.change "$(test "$(sha256sum < /mnt/check/root/change.bin)" = "$ORIG" && echo same || echo differs)"
  fact restore-lvm.hostname "$(cat /mnt/check/etc/hostname)"
  fact restore-lvm.fstab "$(grep -c "UUID=$(vuuid /dev/vg0/web1c-disk)" /mnt/check/etc/fstab)"
  umount /mnt/check
}
printf "name = 'snap1'\nmemory = 128\ndisk = [ 'phy:/dev/vg0/web1-swap,xvda1,w' ]\n" > $ROOT/etc/xen/snap1.cfg
printf '#!/bin/sh\necho "snap1 7 256 1 -b---- 1.0"\n' > /tmp/fake-xl && chmod 755 /tmp/fake-xl
node $REPO/test/vm/lvm-running-backup.mjs $ROOT /tmp/xkbk snap1 /tmp/fake-xl running > $LOGS/running.out 2>&1
grep '^@@ ' $LOGS/running.out
node $REPO/test/vm/lvm-running-backup.mjs $ROOT /tmp/xkbk snap1 /tmp/fake-xl abort abort > $LOGS/abort.out 2>&1
grep '^@@ ' $LOGS/abort.out
# The snapshot of snap1 (web1's swap, no --as: the same bytes) restored onto a new volume of its
# own name: bit for bit.
bk restore snap1 --root=$ROOT2 --lvm=vg0 > $LOGS/restore-lvm-snap1.out 2>&1
fact restore-lvm.snap1-exit $?
tail -2 $LOGS/restore-lvm-snap1.out
fact restore-lvm.snap1-same "$(test "$(sha256sum < /dev/vg0/snap1-web1-swap)" = "$(sha256sum < /dev/vg0/web1-swap)" && echo yes || echo no)"
lvremove -q -y vg0/web1c-disk vg0/web1c-swap vg0/snap1-web1-swap
bk verify --root=$ROOT > $LOGS/backup-verify.out 2>&1
fact backup.verify $?
fact backup.lvs "$(lvnames vg0)"
rm -rf /tmp/xkbk $ROOT2 $ROOT/etc/xen/snap1.cfg
end backup

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
# resize-image grows the second swap by its section name; mkswap keeps its UUID.
xenkit resize-image part1 --swap-of=swap2=24M > $LOGS/parts-resize.out 2>&1
fact parts.resize-exit $?
tail -2 $LOGS/parts-resize.out
fact parts.resize-size "$(lvs --noheadings --units b --nosuffix -o lv_size vg0/part1-swap2 | tr -d ' ')"
fact parts.resize-uuid "$(vuuid /dev/vg0/part1-swap2)"
xenkit delete-image part1 > $LOGS/parts-delete.out 2>&1
fact parts.deleted $?
fact parts.after-delete "$(lvnames vg0)"
end parts

begin hvm
# --type=hvm on LVM: the volume is a whole disk (MBR with syslinux' code, one bootable Linux
# partition at 1 MiB holding the ext4 with extlinux), as the file path makes it.
create --hostname=hvm1 --lvm=vg0 --type=hvm --size=128M --noswap > $LOGS/hvm.out 2>&1
fact hvm.exit $?
tail -3 $LOGS/hvm.out
fact hvm.lvs "$(lvnames vg0)"
fact hvm.mbr "$(dd if=/dev/vg0/hvm1-disk bs=1 skip=510 count=2 2>/dev/null | od -An -tx1 | tr -d ' \n')"
# Partition entry 1 of the MBR (offset 446): boot flag, type, first sector, sectors (no sfdisk here).
mbrat() { od -An -t$2 -j$1 -N$3 /dev/vg0/hvm1-disk | tr -d ' '; }
fact hvm.part "$(mbrat 446 u1 1) $(mbrat 450 x1 1) $(mbrat 454 u4 4) $(mbrat 458 u4 4)"
fact hvm.lvbytes "$(blockdev --getsize64 /dev/vg0/hvm1-disk)"
fact hvm.fstype "$(blkid -p -o value -s TYPE --offset 1048576 /dev/vg0/hvm1-disk)"
fact hvm.cfgdisk "$(grep -o "phy:[^']*" $ROOT/etc/xen/hvm1.cfg | paste -sd' ' -)"
fact hvm.cfgtype "$(grep -o "^type *= *'[a-z]*'" $ROOT/etc/xen/hvm1.cfg | tr -d " '")"
LOOP=$(losetup --find --show --read-only --offset 1048576 /dev/vg0/hvm1-disk)
mount -o ro $LOOP /mnt/check && {
  fact hvm.hostname "$(cat /mnt/check/etc/hostname)"
  fact hvm.ldlinux "$(test -f /mnt/check/boot/extlinux/ldlinux.sys && echo yes || echo no)"
  fact hvm.fstab "$(grep -c "UUID=$(blkid -p -o value -s UUID $LOOP)" /mnt/check/etc/fstab)"
  umount /mnt/check
}
losetup -d $LOOP
fact hvm.loops "$(losetup -j /dev/vg0/hvm1-disk | wc -l)"
xenkit delete-image hvm1 > $LOGS/hvm-delete.out 2>&1
fact hvm.deleted $?
fact hvm.after-delete "$(lvnames vg0)"
end hvm
`;
}
