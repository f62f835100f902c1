/**
 * The bash script the Xen VM test runs in the nested dom0, all scenarios in one boot: xenkit's
 * xen-create-image builds a pv guest (Debian kernel + busybox ramdisk, ext4 root from a tar
 * tree), `xm` drives it through the xl driver, and real `xl` checks the results. Facts come back
 * as `@@ key=value` lines (read with parseFacts from lvm-scenarios.ts).
 */
import { GUEST_UP_MARKER } from './xen-guest.js';

/** Host paths the script needs (all visible in dom0). */
export interface XenScenarioInputs {
  repo: string;
  tarball: string;
  kernel: string;
  guestInitramfs: string;
  /** The scratch disk that holds the guests' image files. */
  disk: string;
  /** Script run right after the setup (the HVM guest's start, which overlaps the rest). */
  afterSetup?: string;
  /** Script run after the pvh scenario (the HVM guest's check). */
  afterPvh?: string;
}

/** The whole scenario script. */
export function renderXenScenarios(inputs: XenScenarioInputs): string {
  const { repo, tarball, kernel, guestInitramfs, disk, afterSetup = '', afterPvh = '' } = inputs;
  return String.raw`
set -u
REPO=${repo}
ROOT=/srv/xk
CON=/var/log/xen/console
export XENKIT_ROOT=$ROOT
fact() { echo "@@ $1=$2"; }
T0=0
begin() { T0=$(date +%s.%N); echo "=== $1"; }
end() { fact "time.$1" "$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $T0}")"; }
xm() { node $REPO/bin/xm.js "$@"; }
# Waits until FILE holds PATTERN N times (default 1), at most SECONDS.
wait_for() {
  local file=$1 pattern=$2 count=$3 limit=$4 i
  for i in $(seq $limit); do
    [ "$(grep -c "$pattern" "$file" 2>/dev/null)" -ge "$count" ] && return 0
    sleep 1
  done
  return 1
}
domid() { xl domid "$1" 2>/dev/null; }
xlfield() { xl list "$1" 2>/dev/null | awk -v c=$2 'NR==2{print $c}'; }

begin setup
mkfs.ext4 -q ${disk} && mkdir -p /srv && mount ${disk} /srv && mkdir -p $ROOT/etc/xen $ROOT/etc/xen-tools $ROOT/srv/xen
printf 'Correct-Horse-7-Battery\n' > $ROOT/pw
bindfile() { touch $ROOT/$1 && mount --bind $2 $ROOT/$1; }
bindfile tree.tar ${tarball} && bindfile vmlinuz ${kernel} && bindfile guest.cpio ${guestInitramfs}
ip link add xenbr0 type bridge && ip link set xenbr0 up
fact setup.exit $?
end setup
${afterSetup}
begin create
node $REPO/bin/xen-create-image.js --hostname=xg1 --dir=/srv/xen --size=256M --noswap --memory=256M \
  --vcpus=2 --maxvcpus=2 --dhcp --install-method=tar --install-source=/tree.tar --dist=bookworm \
  --kernel=/vmlinuz --initrd=/guest.cpio --password-file=/pw > /run/xenkit-vm/create.out 2>&1
fact create.exit $?
tail -5 /run/xenkit-vm/create.out
cp $ROOT/etc/xen/xg1.cfg /tmp/xg1.cfg && cat /tmp/xg1.cfg | grep -v '^#' | grep -v '^$'
end create

begin start
xm create xg1
fact start.exit $?
wait_for $CON/guest-xg1.log "${GUEST_UP_MARKER}" 1 240
fact start.up $?
fact start.root "$(grep -o 'root hostname=[^ ]* type=[A-Za-z]*' $CON/guest-xg1.log | head -1)"
fact start.id "$(domid xg1)"
end start

begin list
xm list > /tmp/xm-list.out; fact list.exit $?
cat /tmp/xm-list.out
xl list
fact list.header "$(head -1 /tmp/xm-list.out | tr -s ' \t' ' ')"
fact list.row "$(grep '^xg1 ' /tmp/xm-list.out | awk '{print $1, $2, $3, $4}')"
fact list.xlrow "$(xl list xg1 | awk 'NR==2{print $1, $2, $3, $4}')"
end list

begin vcpu-set
# Down first, then up again.
fact vcpu-set.before "$(xlfield xg1 4)"
xm vcpu-set xg1 1; fact vcpu-set.exit $?
for i in $(seq 60); do [ "$(xlfield xg1 4)" = 1 ] && break; sleep 1; done
fact vcpu-set.vcpus "$(xlfield xg1 4)"
# Up again (the guest onlines the new vCPU); --ignore-host as xl takes it, a no-op within the host's two CPUs.
xm vcpu-set xg1 2 --ignore-host; fact vcpu-set.upexit $?
for i in $(seq 60); do [ "$(xlfield xg1 4)" = 2 ] && break; sleep 1; done
fact vcpu-set.up "$(xlfield xg1 4)"
end vcpu-set

begin mem-set
xm mem-set xg1 192; fact mem-set.exit $?
for i in $(seq 60); do [ "$(xlfield xg1 3)" = 192 ] && break; sleep 1; done
fact mem-set.mem "$(xlfield xg1 3)"
end mem-set

begin pause
xm pause xg1; fact pause.exit $?
fact pause.state "$(xlfield xg1 5)"
xm unpause xg1; fact unpause.exit $?
fact unpause.state "$(xlfield xg1 5)"
end pause

begin reboot
before=$(domid xg1)
xm reboot xg1; fact reboot.exit $?
for i in $(seq 120); do id=$(domid xg1); [ -n "$id" ] && [ "$id" != "$before" ] && break; sleep 1; done
fact reboot.before "$before"
fact reboot.after "$(domid xg1)"
wait_for $CON/guest-xg1.log "${GUEST_UP_MARKER}" 2 240
fact reboot.up $?
end reboot

begin verbs
# The newer xm verbs through the xl driver on the running xg1, each against what real xl says.
# Node starts slowly under TCG, so one node process runs them all through xm's own entry point
# (the main() of bin/xm.js), each verb a fresh command run as from the shell: a line
# "KEY xm ARGS" runs xm ARGS, "KEY sh CMD" a shell command (the xl checks, in between); the
# output goes to /tmp/v.KEY, the exit status to the fact KEY.exit. Commands are bounded, so a
# device whose frontend never answers fails its verb instead of hanging the run.
cat > /tmp/xm-batch.mjs <<'BATCH'
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
const { xm } = await import(process.argv[2] + '/dist/bundle/cli.mjs');
for (const line of readFileSync(process.argv[3], 'utf8').split('\n').filter(Boolean)) {
  const [key, kind, ...rest] = line.split(' ');
  let out = '';
  let code;
  if (kind === 'xm') {
    const sink = new PassThrough();
    sink.on('data', (c) => (out += c));
    const io = { stdout: sink, stderr: sink, stdin: process.stdin, isTTY: false };
    const timer = setTimeout(() => { console.log('@@ ' + key + '.exit=timeout'); process.exit(3); }, 90_000);
    code = await xm(rest, io);
    clearTimeout(timer);
  } else {
    try {
      out = execFileSync('sh', ['-c', rest.join(' ')], { encoding: 'utf8', timeout: 60_000 });
      code = 0;
    } catch (e) {
      out = String(e.stdout ?? '') + String(e.stderr ?? '');
      code = e.status ?? 1;
    }
  }
  writeFileSync('/tmp/v.' + key, out);
  console.log('@@ ' + key + '.exit=' + code);
  if (out.length < 600) process.stdout.write(out);
}
BATCH
truncate -s 16M /srv/xg1-extra.img
ups=$(grep -c "${GUEST_UP_MARKER}" $CON/guest-xg1.log)
fact save.before "$(domid xg1)"
cat > /tmp/verbs.txt <<'VERBS'
block-attach xm block-attach xg1 format=raw,vdev=xvdb,access=rw,target=/srv/xg1-extra.img
block-list xm block-list xg1 --json
xl-block-list sh xl block-list xg1
block-detach xm block-detach xg1 xvdb
xl-block-left sh xl block-list xg1
network-attach xm network-attach xg1 bridge=xenbr0 --json
network-list xm network-list xg1 --json
xl-network-list sh xl network-list xg1
network-detach xm network-detach xg1 1
xl-network-left sh xl network-list xg1
vcpu-pin xm vcpu-pin xg1 1 0
vcpu-list xm vcpu-list xg1 --json
xl-vcpu-list sh xl vcpu-list xg1
vcpu-unpin xm vcpu-pin xg1 1 all
vcpu-list-all xm vcpu-list xg1 --json
xl-vcpu-list-all sh xl vcpu-list xg1
mem-max xm mem-max xg1 320M
xl-static-max sh xenstore-read /local/domain/$(xl domid xg1)/memory/static-max
dmesg xm dmesg
xl-dmesg sh xl dmesg | head -1
top xm top -b -i 1
rename xm rename xg1 xg1b
rename-list xm list
rename-xl sh xl domid xg1b
rename-cfg sh grep -c "^name *= *'xg1b'" $XENKIT_ROOT/etc/xen/xg1b.cfg
rename-back xm rename xg1b xg1
save xm save xg1 /srv/xg1.save
save-gone sh xl domid xg1 || echo gone
restore xm restore /srv/xg1.save --json
VERBS
XENKIT_DRIVER=xl timeout 900 node /tmp/xm-batch.mjs $REPO /tmp/verbs.txt
# The facts read from xm's JSON, in one more node run.
node -e '
const v = (k) => JSON.parse(require("fs").readFileSync("/tmp/v." + k, "utf8"));
const fact = (k, x) => console.log("@@ " + k + "=" + x);
const read = (k, f) => { try { return f(v(k)); } catch (e) { return "unreadable: " + e.message; } };
const mac = read("network-attach", (n) => n.mac);
fact("block-list.xvdb", read("block-list", (l) => l.filter((d) => d.vdev === "xvdb").map((d) => [d.vdev, d.target, d.access].join(" ")).join() || "none"));
fact("network-attach.devid", read("network-attach", (n) => n.devid));
fact("network-attach.mac", mac);
fact("network-list.has", read("network-list", (l) => l.length + " " + l.some((n) => n.mac === mac)));
fact("vcpu-list.xm", read("vcpu-list", (l) => l.map((c) => c.vcpu + ":" + c.affinity).join(" ")));
fact("vcpu-list.xm-all", read("vcpu-list-all", (l) => l.map((c) => c.vcpu + ":" + c.affinity).join(" ")));
'
NEWMAC=$(grep -o '"mac": "[^"]*"' /tmp/v.network-attach | cut -d'"' -f4)
fact block-list.xl "$(awk 'NR>1' /tmp/v.xl-block-list | wc -l)"
fact block-detach.left "$(awk 'NR>1' /tmp/v.xl-block-left | wc -l)"
fact network-list.xl "$(grep -ci "$NEWMAC" /tmp/v.xl-network-list)"
fact network-detach.xl "$(grep -ci "$NEWMAC" /tmp/v.xl-network-left)"
fact vcpu-list.xl "$(awk 'NR>1{print $3":"$7}' /tmp/v.xl-vcpu-list | tr '\n' ' ' | sed 's/ $//')"
fact vcpu-list.xl-all "$(awk 'NR>1{print $3":"$7}' /tmp/v.xl-vcpu-list-all | tr '\n' ' ' | sed 's/ $//')"
fact vcpu-list.nrcpus "$(xl info | awk '$1=="nr_cpus"{print $3}')"
fact mem-max.static "$(cat /tmp/v.xl-static-max)"
fact dmesg.xen "$(grep -c '^(XEN)' /tmp/v.dmesg)"
fact dmesg.same "$(test "$(head -1 /tmp/v.dmesg)" = "$(cat /tmp/v.xl-dmesg)"; echo $?)"
head -3 /tmp/v.top
fact top.row "$(grep -c '^ *xg1 ' /tmp/v.top)"
fact top.dom0 "$(grep -c 'Domain-0' /tmp/v.top)"
fact rename.listed "$(awk 'NR>1{print $1}' /tmp/v.rename-list | grep -c '^xg1b$')"
fact rename.cfg "$(cat /tmp/v.rename-cfg)"
fact save.gone "$(cat /tmp/v.save-gone)"
fact save.mode "$(stat -c %a /srv/xg1.save)"
fact restore.after "$(domid xg1)"
fact restore.state "$(xlfield xg1 5)"
fact restore.ups "$(grep -c "${GUEST_UP_MARKER}" $CON/guest-xg1.log) $ups"
rm -f /srv/xg1.save /srv/xg1-extra.img
end verbs

begin shutdown
xm shutdown -w xg1; fact shutdown.exit $?
fact shutdown.after "$(xl list xg1 2>&1 | awk 'NR==2{print $5}')"
for i in $(seq 20); do xl list xg1 >/dev/null 2>&1 || break; sleep 1; done
fact shutdown.gone "$(xl list xg1 >/dev/null 2>&1; echo $?)"
grep -c 'going down' $CON/guest-xg1.log | sed 's/^/going down: /'
end shutdown

begin autostart
# This boot (only this one of xg1) also captures what xenkit detect reads (xen-guest.ts).
sed -i "s/^extra *= *'\(.*\)'/extra = '\1 xenkit.detect-capture'/" $ROOT/etc/xen/xg1.cfg
fact autostart.capture "$(grep -c 'xenkit.detect-capture' $ROOT/etc/xen/xg1.cfg)"
# What xendomains does at host boot: every cfg linked in /etc/xen/auto is started.
xm autostart xg1 on; fact autostart.on $?
fact autostart.link "$(readlink -f $ROOT/etc/xen/auto/xg1.cfg)"
xm start --auto; fact autostart.exit $?
fact autostart.id "$(domid xg1)"
wait_for $CON/guest-xg1.log "${GUEST_UP_MARKER}" 3 240
fact autostart.up $?
xm start --auto; fact autostart.again $?
fact autostart.same "$(domid xg1)"
xm destroy xg1; fact autostart.destroy $?
xm autostart xg1 off; fact autostart.off "$(test -e $ROOT/etc/xen/auto/xg1.cfg; echo $?)"
end autostart

begin pvh
# One vCPU: a pvh guest is an HVM container, and two of its vCPUs on the nested Xen's one
# emulated CPU (SVM under TCG) can starve dom0, and with it this script, for many minutes.
sed -e "s/^type *=.*/type = 'pvh'/" -e "s/^name *=.*/name = 'xg2'/" \
  -e "s/^extra *= *'\(.*\)'/extra = '\1 xenkit.detect-capture'/" \
  -e "s/^vcpus *=.*/vcpus = '1'/" -e "s/^maxvcpus *=.*/maxvcpus = '1'/" /tmp/xg1.cfg > /tmp/xg2.cfg
fact pvh.capture "$(grep -c 'xenkit.detect-capture' /tmp/xg2.cfg)"
timeout 120 xl create /tmp/xg2.cfg; fact pvh.exit $?
wait_for $CON/guest-xg2.log "${GUEST_UP_MARKER}" 1 240
fact pvh.up $?
fact pvh.type "$(grep -o 'type=[A-Za-z]*' $CON/guest-xg2.log | head -1)"
fact pvh.xltype "$(timeout 30 xl list -l xg2 | grep -o '"type": "[a-z]*"' | head -1)"
timeout 30 xl list
timeout 60 xl destroy xg2
end pvh
${afterPvh}# Kept in the job directory for a look after a failure (XENKIT_VM_KEEP=1 keeps it).
cp $CON/*.log /run/xenkit-vm/ 2>/dev/null
xl dmesg > /run/xenkit-vm/xl-dmesg.log 2>&1
`;
}
