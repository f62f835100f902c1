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
node_lib() {
  node --input-type=module -e "
    import { UndoStack } from '$REPO/dist/plan/undo-stack.js';
    import * as lvm from '$REPO/dist/storage/lvm.js';
    import * as grow from '$REPO/dist/storage/lvm-resize.js';
    const ctx = { undo: new UndoStack(), sink: () => undefined, signal: new AbortController().signal };
    $1"
}

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

begin resize
node_lib "const r = await grow.growGuestDisk('vg0', 'web1', 384 * 1024 * 1024, ctx); console.log(JSON.stringify(r));"
fact resize.exit $?
fact resize.lvsize "$(lvs --noheadings --units b --nosuffix -o lv_size vg0/web1-disk | tr -d ' ')"
fact resize.fsbytes "$(dumpe2fs -h /dev/vg0/web1-disk 2>/dev/null | awk -F: '/^Block count/{c=$2} /^Block size/{s=$2} END{print c*s}')"
e2fsck -f -n /dev/vg0/web1-disk > /dev/null 2>&1
fact resize.fsck $?
node_lib "await grow.growGuestDisk('vg0', 'web1', 128 * 1024 * 1024, ctx);" 2>&1 | grep -o 'E_[A-Z_]*\|is not larger than' | head -2 | paste -sd' ' -
end resize

begin delete
node_lib "console.log(JSON.stringify(await lvm.deleteGuestVolumes('vg0', 'web1', ctx)));"
fact delete.exit $?
fact delete.lvs "$(lvnames vg0)"
end delete

begin rollback-space
create --hostname=big1 --lvm=vg0 --size=50G --swap=64M > $LOGS/big.out 2>&1
fact rollback-space.exit $?
fact rollback-space.refused "$(grep -c 'volume group "vg0" has .* free, the guest needs' $LOGS/big.out)"
fact rollback-space.made "$(grep -c '✔ Make the ext4 disk' $LOGS/big.out)"
fact rollback-space.lvs "$(lvnames vg0)"
end rollback-space

begin rollback-late
touch $ROOT/blocked
create --hostname=late1 --lvm=vg0 --size=128M --swap=32M --output=/blocked > $LOGS/late.out 2>&1
fact rollback-late.exit $?
tail -3 $LOGS/late.out
fact rollback-late.made "$(grep -c '✔ Make the ext4 disk /dev/vg0/late1-disk' $LOGS/late.out)"
fact rollback-late.lvs "$(lvnames vg0)"
end rollback-late

begin thin-delete
node_lib "console.log(JSON.stringify(await lvm.deleteGuestVolumes('vg0', 'thin1', ctx)));"
fact thin-delete.lvs "$(lvnames vg0)"
end thin-delete
`;
}
