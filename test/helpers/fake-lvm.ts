/** Fake LVM tools on PATH for unit tests (the real ones run in test/vm/lvm.vm.test.ts). */
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, writeFakeTool } from './storage-fixtures.js';

/**
 * A directory with fake lvs, lvrename and lvremove over BIN/volumes (`vg name [attr]` lines,
 * attr default `-wi-a-----`): lvs reports them as JSON (a group without volumes is "not found"),
 * lvrename and lvremove append their argv to BIN/log and apply themselves to BIN/volumes.
 */
export function makeFakeLvm(volumes: string[]): string {
  const bin = makeTempDir('fake-lvm');
  fs.writeFileSync(path.join(bin, 'volumes'), volumes.map((v) => `${v}\n`).join(''));
  writeFakeTool(
    bin,
    'lvs',
    `vg="$(eval echo \\$$#)"
grep -q "^$vg " ${bin}/volumes || { echo "Volume group \\"$vg\\" not found" >&2; exit 5; }
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

/** The commands the fake tools in `bin` ran, one line each (none yet: empty). */
export function fakeLvmLog(bin: string): string[] {
  const file = path.join(bin, 'log');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n') : [];
}

/** The volumes the fake tools in `bin` hold now. */
export function fakeLvmVolumes(bin: string): string[] {
  return fs.readFileSync(path.join(bin, 'volumes'), 'utf8').trim().split('\n');
}
