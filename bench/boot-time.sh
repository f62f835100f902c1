#!/bin/bash
# Benchmark: time from `xm create` to the login prompt on the serial console, for a guest built
# by xenkit and one built by xen-tools 4.9.2 with the same options, both booted the same way
# (xenkit's `xm create` under QEMU: TCG on this machine), plus QEMU's memory overhead.
#
#   bench/boot-time.sh [--runs N] [--mirror URL] [--out FILE] [--no-results] [--keep-logs DIR]
#
# Both guests: bookworm, 2G ext4 root, swap, 512M memory, DHCP, a generated root password:
#   xen-create-image --hostname=H --dir=D --dhcp --dist=bookworm --size=2G --memory=512M --nohosts --genpass=1
# (xen-tools also --output=DIR and --cache=no, so it does not copy the host's .debs into the
# guest; xenkit also --root=SCRATCH so nothing lands in the real /etc/xen.) Boots alternate
# between the two guests, N each (default 3); the figures are medians. On the first boot of
# each, root logs in on the console to see whether the network came up (`ip -4 addr`), where /
# and swap are, and the memory; once at the login prompt, QEMU's RSS is split with
# /proc/PID/smaps into the guest RAM block (what the guest touched of its 512M) and the rest
# (QEMU itself: TCG translation cache, devices, libraries): the overhead.
# Prints a table and replaces the "Boot time" section of bench/RESULTS.md (--no-results: not).
# Everything the bench made (scratch dir, guests, /var/log/xen-tools/<name>.log) is removed;
# --keep-logs DIR first copies the build outputs, console logs and probe results there.
set -euo pipefail

RUNS=3
MIRROR=http://deb.debian.org/debian
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT="$REPO/bench/RESULTS.md"
WRITE_RESULTS=1
BOOT_TIMEOUT=900
KEEP_LOGS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --mirror) MIRROR=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --no-results) WRITE_RESULTS=0; shift ;;
    --keep-logs) KEEP_LOGS=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "boot-time.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

[ "$(id -u)" = 0 ] || { echo "boot-time.sh: run as root (images, loop mounts, QEMU)" >&2; exit 2; }
command -v xen-create-image >/dev/null || { echo "boot-time.sh: xen-tools is not installed" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "boot-time.sh: QEMU is not installed" >&2; exit 2; }
[ -f "$REPO/dist/bundle/cli.mjs" ] || (cd "$REPO" && npm run build >/dev/null)

XK=xkboot$$
XT=xtboot$$
MEM_MIB=512
WORK=$(mktemp -d /var/tmp/xenkit-boot-bench.XXXXXX)
ROOT="$WORK/root"
mkdir -p "$ROOT" "$WORK/xt/dir" "$WORK/xt/etc" "$WORK/logs"
XM=(node "$REPO/bin/xm.js")

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
now() { date +%s.%N; }
# calc EXPR: awk arithmetic (bc is not always installed); comparisons print 1 or 0.
calc() { awk "BEGIN { print ($1) }"; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
qemu_pids() { pgrep -f "qemu-system.* -name $1," || true; }

cleanup() {
  if [ -n "$KEEP_LOGS" ] && [ -d "$WORK/logs" ]; then
    mkdir -p "$KEEP_LOGS" && cp -r "$WORK/logs/." "$KEEP_LOGS/" && rm -f "$KEEP_LOGS"/*.pw
  fi
  for name in "$XK" "$XT"; do
    "${XM[@]}" destroy "$name" --root "$ROOT" >/dev/null 2>&1 || true
    for pid in $(qemu_pids "$name"); do kill -9 "$pid" 2>/dev/null || true; done
  done
  # xen-tools unmounts on failure but can leave its temporary mount behind.
  grep -o "^[^ ]* /tmp/[A-Za-z0-9]* " /proc/mounts | while read -r dev mnt; do
    case "$dev" in "$WORK"/*) umount "$mnt" 2>/dev/null && rmdir "$mnt" 2>/dev/null ;; esac
  done || true
  rm -f "/var/log/xen-tools/$XT.log"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
SAME=(--dhcp --dist=bookworm --size=2G --memory=${MEM_MIB}M --nohosts --genpass=1 --mirror="$MIRROR")

log "building $XK with xenkit"
t0=$(now)
node "$REPO/bin/xen-create-image.js" --root="$ROOT" --hostname="$XK" --dir=/srv "${SAME[@]}" --json \
  >"$WORK/logs/xk-create.json" 2>"$WORK/logs/xk-create.err" \
  || { echo "xenkit create failed:" >&2; tail -20 "$WORK/logs/xk-create.err" >&2; exit 1; }
XK_BUILD=$(calc "$(now) - $t0")
node -e 'const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(s.rootPassword)' \
  "$WORK/logs/xk-create.json" >"$WORK/xk.pw"
XK_CFG="$ROOT/etc/xen/$XK.cfg"

log "building $XT with xen-tools 4.9.2"
t0=$(now)
xen-create-image --hostname="$XT" --dir="$WORK/xt/dir" --output="$WORK/xt/etc" "${SAME[@]}" --cache=no \
  >"$WORK/logs/xt-create.out" 2>&1 \
  || { echo "xen-tools create failed:" >&2; tail -20 "$WORK/logs/xt-create.out" >&2; exit 1; }
XT_BUILD=$(calc "$(now) - $t0")
sed -n 's/^Root Password *: *\([^ ]*\).*/\1/p' "$WORK/logs/xt-create.out" | head -1 >"$WORK/xt.pw"
[ -s "$WORK/xt.pw" ] || { echo "no root password in the xen-tools output" >&2; exit 1; }
XT_CFG="$WORK/xt/etc/$XT.cfg"
log "  built in ${XK_BUILD%.*} s (xenkit) and ${XT_BUILD%.*} s (xen-tools)"

# shellcheck source=lib/qemu-mem.sh
. "$REPO/bench/lib/qemu-mem.sh"

# boot NAME CFG PWFILE PROBE DISK: boots, prints "seconds_to_login rss_kb guest_ram_kb tcg_kb", destroys
# the guest, then replays the root filesystem's journal as the next mount would: the QEMU driver
# reads the kernel with debugfs, which refuses an ext4 left with needs_recovery by a destroy
# ("Block bitmap checksum does not match") and the next `xm create` would fail.
boot() {
  local name=$1 cfg=$2 pwfile=$3 probe=$4 disk=$5 t0 t1 rundir log pid secs rss guest tcg cpu
  rundir="$ROOT/run/xenkit/qemu/$name"
  log="$rundir/console.log"
  t0=$(now)
  "${XM[@]}" create --root "$ROOT" "$cfg" >"$WORK/logs/$name-create.out" 2>&1 \
    || { echo "xm create $name failed:" >&2; cat "$WORK/logs/$name-create.out" >&2; return 1; }
  until [ -f "$log" ] && grep -qa 'login: ' "$log"; do
    if [ "$(calc "$(now) - $t0 > $BOOT_TIMEOUT")" = 1 ] || [ -z "$(qemu_pids "$name")" ]; then
      echo "$name: no login prompt within $BOOT_TIMEOUT s; console:" >&2
      tail -c 2000 "$log" >&2 || true
      return 1
    fi
    sleep 0.2
  done
  t1=$(now)
  secs=$(calc "$t1 - $t0")
  pid=$(cat "$rundir/qemu.pid")
  read -r rss guest tcg < <(rss_split "$pid" "$MEM_MIB")
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.1f", ($12 + $13) / hz }' "/proc/$pid/stat")
  cp "$log" "$WORK/logs/$name-console-$(date +%s).log"
  if [ "$probe" = 1 ]; then
    node "$REPO/bench/lib/console-run.mjs" "$rundir/console.sock" root "$pwfile" 300 \
      "ip -4 -o addr show scope global | awk '{ print \$2, \$4 }'" 'findmnt -n -o SOURCE /' \
      'swapon --show=NAME --noheadings' 'systemctl --failed --plain --no-legend | cut -d" " -f1' \
      'systemd-analyze 2>/dev/null | head -1' \
      >"$WORK/logs/$name-probe.jsonl" 2>"$WORK/logs/$name-probe.err" || true
  fi
  "${XM[@]}" destroy --root "$ROOT" "$name" >/dev/null
  e2fsck -E journal_only -y "$disk" >/dev/null 2>&1 || true
  echo "$secs $rss $guest $tcg $cpu"
}

# probe_field NAME COMMAND-PREFIX: the output of that probe command, on one line.
probe_field() {
  node -e '
    const [file, prefix] = process.argv.slice(1);
    let out = "(no login)";
    try {
      for (const line of require("fs").readFileSync(file, "utf8").split("\n").filter(Boolean)) {
        const r = JSON.parse(line);
        if (r.command.startsWith(prefix)) out = (r.output ?? "").trim().replace(/\s+/g, " ") || "(none)";
      }
    } catch {}
    console.log(out);' "$WORK/logs/$1-probe.jsonl" "$2"
}

SPEED_START=$("$REPO/bench/lib/cpu-speed.sh")
declare -A SECS RSS GUEST TCG CPU
for i in $(seq 1 "$RUNS"); do
  for who in XK XT; do
    if [ "$who" = XK ]; then
      name=$XK cfg=$XK_CFG pw="$WORK/xk.pw" disk="$ROOT/srv/domains/$XK/disk.img"
    else
      name=$XT cfg=$XT_CFG pw="$WORK/xt.pw" disk="$WORK/xt/dir/domains/$XT/disk.img"
    fi
    log "boot $i/$RUNS: $name"
    read -r secs rss guest tcg cpu < <(boot "$name" "$cfg" "$pw" "$([ "$i" = 1 ] && echo 1 || echo 0)" "$disk")
    [ -n "${secs:-}" ] || exit 1
    SECS[$who]+="$secs "; RSS[$who]+="$rss "; GUEST[$who]+="$guest "; TCG[$who]+="$tcg "; CPU[$who]+="$cpu "
    log "  login prompt after $secs s; QEMU RSS $((rss / 1024)) MiB: guest RAM $((guest / 1024)), TCG cache $((tcg / 1024))"
  done
done

SPEED_END=$("$REPO/bench/lib/cpu-speed.sh")

row() {
  local who=$1 label=$2 name=$3 secs med rss guest tcg
  secs=$(echo "${SECS[$who]}" | tr ' ' '\n' | grep . | awk '{ printf "%.1f, ", $1 }' | sed 's/, $//')
  med=$(echo "${SECS[$who]}" | tr ' ' '\n' | grep . | median)
  rss=$(echo "${RSS[$who]}" | tr ' ' '\n' | grep . | median | cut -d. -f1)
  guest=$(echo "${GUEST[$who]}" | tr ' ' '\n' | grep . | median | cut -d. -f1)
  tcg=$(echo "${TCG[$who]}" | tr ' ' '\n' | grep . | median | cut -d. -f1)
  printf '| %s | %s | **%.1f** | %d | %d | %d | %d | %s | %s | %s | %s |\n' "$label" "$secs" "$med" \
    $((rss / 1024)) $((guest / 1024)) $((tcg / 1024)) $(((rss - guest - tcg) / 1024)) \
    "$(probe_field "$name" 'ip -4')" "$(probe_field "$name" 'findmnt') / swap: $(probe_field "$name" 'swapon')" \
    "$(probe_field "$name" 'systemctl --failed')" "$(probe_field "$name" 'systemd-analyze')"
}

med() { local -n arr=$1; echo "${arr[$2]}" | tr ' ' '\n' | grep . | median; }
ratio() { awk -v a="$(med "$1" XT)" -v b="$(med "$1" XK)" 'BEGIN { printf "%.2fx", a / b }'; }

QEMU_VERSION=$(qemu-system-x86_64 --version | head -1 | sed 's/^QEMU emulator version //')
ACCEL=$("${XM[@]}" info --root "$ROOT" 2>/dev/null | awk '/^accel:/ { print $2 }')
SECTION=$(cat <<EOF
## Boot time: \`xm create\` to the login prompt

Measured $(date -u +%Y-%m-%d) by \`bench/boot-time.sh --runs $RUNS\` on $(nproc) CPUs, load average
at the start $LOAD_START; QEMU $QEMU_VERSION, accel ${ACCEL:-tcg} (\`/dev/kvm\` here is not hardware-backed).
Both guests: bookworm, 2G ext4, ${MEM_MIB}M, DHCP, \`--genpass=1\`, same mirror; built in ${XK_BUILD%.*} s (xenkit)
and ${XT_BUILD%.*} s (xen-tools, \`--cache=no\`), each booted $RUNS times by xenkit's \`xm create\`, alternating.
Time: from \`xm create\` to \`login:\` in the console log. Memory at the login prompt, MiB (medians,
from /proc/PID/smaps): QEMU's RSS; of it the guest RAM (the ${MEM_MIB} MiB block, as far as the guest has
touched it), TCG's translation cache (xenkit's \`xm create\` asks for 96 MiB; QEMU's default is 1 GiB) and the rest (QEMU itself: devices,
libraries, heap). QEMU's overhead is RSS minus guest RAM. Network, root, swap, failed units and
\`systemd-analyze\`: after a root login on the first boot.

| guest | boots (s) | median (s) | QEMU RSS | guest RAM | TCG cache | rest | network (\`ip -4 addr\`) | root / swap | failed units | systemd-analyze |
|---|---|---|---|---|---|---|---|---|---|---|
$(row XK "xenkit" "$XK")
$(row XT "xen-tools 4.9.2" "$XT")

xenkit's guest reaches its login prompt $(ratio SECS) faster than xen-tools' (medians of this run);
QEMU's CPU seconds to the prompt: xenkit $(med CPU XK) s, xen-tools $(med CPU XT) s ($(ratio CPU)).
The machine's single-thread speed (\`bench/lib/cpu-speed.sh\`, lower is faster): $SPEED_START ms before
the first boot, $SPEED_END ms after the last. Boot times and CPU seconds move with it: compare figures
of hours of the same speed.
EOF
)
echo
echo "$SECTION"

if [ "$WRITE_RESULTS" = 1 ]; then
  # Replace our own section (up to the next "## " heading) or append it; other sections stay.
  touch "$OUT"
  awk -v section="$SECTION" '
    /^## Boot time: / { skip = 1; print section; print ""; done = 1; next }
    /^## / { skip = 0 }
    !skip { print }
    END { if (!done) { if (NR) print ""; print section } }' "$OUT" >"$OUT.new"
  mv "$OUT.new" "$OUT"
  log "wrote the boot-time section of $OUT"
fi
