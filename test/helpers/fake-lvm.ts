/** Fake LVM tools on PATH for unit tests (the real ones run in test/vm/lvm.vm.test.ts). */
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, writeFakeTool } from './storage-fixtures.js';

/**
 * A directory with fake lvs, lvrename and lvremove over BIN/volumes (`vg name [attr]` lines,
 * attr default `-wi-a-----`): lvs reports them as JSON (a group without volumes is "not found",
 * unless BIN/groups names it),
 * lvrename and lvremove append their argv to BIN/log and apply themselves to BIN/volumes.
 */
export function makeFakeLvm(volumes: string[]): string {
  const bin = makeTempDir('fake-lvm');
  fs.writeFileSync(path.join(bin, 'volumes'), volumes.map((v) => `${v}\n`).join(''));
  writeFakeTool(
    bin,
    'lvs',
    `vg="$(eval echo \\$$#)"
grep -q "^$vg " ${bin}/volumes || grep -qx "$vg" ${bin}/groups 2>/dev/null || { echo "Volume group \\"$vg\\" not found" >&2; exit 5; }
printf '{"report":[{"lv":['
grep "^$vg " ${bin}/volumes | awk '{printf "%s{\\"lv_name\\":\\"%s\\",\\"vg_name\\":\\"%s\\",\\"lv_size\\":\\"8388608\\",\\"pool_lv\\":\\"\\",\\"lv_attr\\":\\"%s\\",\\"lv_path\\":\\"/dev/%s/%s\\"}", (NR>1?",":""), $2, $1, ($3 == "" ? "-wi-a-----" : $3), $1, $2}'
printf ']}]}'`,
  );
  writeFakeTool(
    bin,
    'lvrename',
    `echo "lvrename $*" >> ${bin}/log\nsed -i -E "s#^$1 $2( |\\$)#$1 $3\\1#" ${bin}/volumes`,
  );
  writeFakeTool(
    bin,
    'lvremove',
    `echo "lvremove $*" >> ${bin}/log\nvg="\${3%%/*}"; lv="\${3#*/}"; sed -i -E "/^$vg $lv( |\\$)/d" ${bin}/volumes`,
  );
  return bin;
}

/**
 * makeFakeLvm plus vgs (every group named in BIN/volumes, or `groups`, with `freeBytes` free),
 * lvcreate (appends the volume; refuses a name listed in BIN/fail-lvcreate) and blkdiscard. With
 * `devices`, each volume also has a node: a regular file /dev/VG/NAME that lvcreate fills with
 * XENKIT-OLD-DATA (what an old volume left on the extents),
 * blkdiscard zeroes and lvremove deletes (writing under /dev needs root; use a VG name no real
 * group has, and remove /dev/VG after).
 */
export function makeFakeLvmWithCreate(
  volumes: string[],
  options: { groups?: string[]; freeBytes?: number; devices?: boolean } = {},
): string {
  const bin = makeFakeLvm(volumes);
  const groups = options.groups ?? [...new Set(volumes.map((v) => v.split(' ')[0]!))];
  fs.writeFileSync(path.join(bin, 'groups'), groups.map((g) => `${g}\n`).join(''));
  const free = options.freeBytes ?? 1024 * 1024 * 1024;
  writeFakeTool(
    bin,
    'vgs',
    `vg="$(eval echo \\$$#)"
grep -qx "$vg" ${bin}/groups || { echo "Volume group \\"$vg\\" not found" >&2; exit 5; }
printf '{"report":[{"vg":[{"vg_name":"%s","vg_size":"%s","vg_free":"%s","vg_extent_size":"4194304"}]}]}' "$vg" ${free * 2} ${free}`,
  );
  writeFakeTool(
    bin,
    'lvcreate',
    `echo "lvcreate $*" >> ${bin}/log
name=""; size=""; prev=""
for a; do case "$prev" in --name) name="$a";; --size) size="\${a%b}";; esac; prev="$a"; vg="$a"; done
grep -qx "$name" ${bin}/fail-lvcreate 2>/dev/null && { echo "  Volume group \\"$vg\\" has insufficient free space" >&2; exit 5; }
echo "$vg $name" >> ${bin}/volumes
${options.devices ? 'mkdir -p "/dev/$vg" && { yes XENKIT-OLD-DATA | head -c "$size" > "/dev/$vg/$name"; }' : 'true'}`,
  );
  writeFakeTool(
    bin,
    'blkdiscard',
    `echo "blkdiscard $*" >> ${bin}/log
for a; do dev="$a"; done
s=$(stat -c %s "$dev") && truncate -s 0 "$dev" && truncate -s "$s" "$dev"`,
  );
  if (options.devices) {
    fs.appendFileSync(path.join(bin, 'lvremove'), `rm -f "/dev/$vg/$lv"\n`);
  }
  return bin;
}

/** The commands the fake tools in `bin` ran, one line each (none yet: empty). */
export function fakeLvmLog(bin: string): string[] {
  const file = path.join(bin, 'log');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n') : [];
}

/** The volumes the fake tools in `bin` hold now. */
export function fakeLvmVolumes(bin: string): string[] {
  return fs.readFileSync(path.join(bin, 'volumes'), 'utf8').trim().split('\n');
}
