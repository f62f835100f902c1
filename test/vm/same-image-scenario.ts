/**
 * The dom0 half of the "same image under both hypervisors" test: the root and swap images that
 * xen-create-image made on the host (and QEMU booted there) are attached to the Xen VM as
 * /dev/vda and /dev/vdb; the guest's own cfg, with only its `file:` paths turned into those
 * devices, is started by `xm create` (xl driver, pygrub reads the guest's menu.lst), root logs
 * in on hvc0 and reports what it sees; then `xm shutdown -w`. Facts come back as `@@ key=value`.
 */

/** Host paths the script needs (all visible in dom0). */
export interface SameImageInputs {
  repo: string;
  name: string;
  /** The cfg xen-create-image wrote (host path). */
  cfg: string;
  passwordFile: string;
  /** The facts the guest reports about itself: key -> shell command. */
  guestFacts: Record<string, string>;
  loginTimeoutS: number;
}

/** The whole dom0 script. */
export function renderSameImageScenario(inputs: SameImageInputs): string {
  const { repo, name, cfg, passwordFile, guestFacts, loginTimeoutS } = inputs;
  const factArgs = Object.entries(guestFacts)
    .map(([key, command]) => `'${key}=${command.replace(/'/g, `'\\''`)}'`)
    .join(' ');
  return String.raw`
set -u
CON=/var/log/xen/console
fact() { echo "@@ $1=$2"; }
T0=0
begin() { T0=$(date +%s.%N); echo "=== $1"; }
end() { fact "time.$1" "$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $T0}")"; }
xm() { node ${repo}/bin/xm.js "$@"; }

begin start
ip link add xenbr0 type bridge && ip link set xenbr0 up
sed -E -e "s#'file:[^,]*/disk\.img,#'phy:/dev/vda,#" -e "s#'file:[^,]*/swap\.img,#'phy:/dev/vdb,#" \
  ${cfg} > /tmp/${name}.cfg
grep -v '^#' /tmp/${name}.cfg | grep .
xm create /tmp/${name}.cfg; fact start.exit $?
fact start.type "$(xl list -l ${name} | grep -o '"type": "[a-z]*"' | head -1)"
end start

begin boot
up=1
for i in $(seq ${loginTimeoutS}); do
  grep -q 'login:' $CON/guest-${name}.log 2>/dev/null && { up=0; break; }
  xl domid ${name} >/dev/null 2>&1 || break
  sleep 1
done
fact boot.login $up
end boot

begin login
node ${repo}/test/vm/guest-console.mjs ${name} ${passwordFile} 300 ${factArgs}
fact login.exit $?
end login

begin list
fact list.row "$(xm list | awk -v n=${name} '$1==n{print $1, $3, $4}')"
end list

begin shutdown
xm shutdown -w ${name}; fact shutdown.exit $?
fact shutdown.gone "$(xl list ${name} >/dev/null 2>&1; echo $?)"
end shutdown
cp $CON/guest-${name}.log /run/xenkit-vm/ 2>/dev/null
tail -40 $CON/guest-${name}.log
`;
}
