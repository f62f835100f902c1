#!/bin/bash
# Benchmark: how many guests one host holds. N linked clones of one base guest are started with
# `xm create` one after the other, then the bench waits for every login prompt on the consoles.
#
#   bench/density.sh [--guests N] [--root DIR --base NAME] [--mirror URL] [--out FILE]
#
# The base is the Quick start guest (`xen-create-image --hostname=NAME --dhcp`, built-in defaults:
# 256M, 1 vCPU) built in a scratch root, or an existing stopped guest NAME of the root DIR given
# with --root/--base (its images become the read-only backing files of the clones). Reports: the
# time from the first `xm create` to the last login prompt, each guest's time to its prompt, each
# QEMU's RSS and its overhead (RSS minus the guest RAM it touched), QEMU's CPU seconds, the host's
# MemAvailable before and at the end, the load average with every figure, `xm list` with all of
# them, and how long `xm shutdown -a -w` takes to stop them all. Every clone is deleted afterwards
# (and the scratch root; with --root only the clones). --out FILE appends the Markdown to FILE.
set -euo pipefail

N=8
ROOT=""
BASE=""
MIRROR=""
OUT=""
BOOT_TIMEOUT=1800
REPO=$(cd "$(dirname "$0")/.." && pwd)
while [ $# -gt 0 ]; do
  case "$1" in
    --guests) N=$2; shift 2 ;;
    --root) ROOT=$2; shift 2 ;;
    --base) BASE=$2; shift 2 ;;
    --mirror) MIRROR=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "density.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "density.sh: run as root (images, QEMU)" >&2; exit 2; }
if { [ -n "$ROOT" ] && [ -z "$BASE" ]; } || { [ -z "$ROOT" ] && [ -n "$BASE" ]; }; then
  echo "density.sh: --root and --base go together" >&2; exit 2
fi
[ -f "$REPO/dist/bundle/cli.mjs" ] || (cd "$REPO" && npm run build >/dev/null)
# shellcheck source=lib/qemu-mem.sh
. "$REPO/bench/lib/qemu-mem.sh"

SCRATCH=""
if [ -z "$ROOT" ]; then
  SCRATCH=$(mktemp -d /var/tmp/xenkit-density.XXXXXX)
  ROOT="$SCRATCH/root"
  BASE=dbase$$
  mkdir -p "$ROOT"
fi
XM=(node "$REPO/bin/xm.js")
XK=(node "$REPO/bin/xenkit.js")
PREFIX=dn$$-
LOGS=$(mktemp -d /var/tmp/xenkit-density-logs.XXXXXX)
log() { echo "[$(date +%H:%M:%S)] $* (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2; }
now_ms() { date +%s%3N; }
names() { for i in $(seq 1 "$N"); do echo "$PREFIX$i"; done; }

cleanup() {
  for name in $(names); do
    "${XM[@]}" destroy "$name" --root "$ROOT" >/dev/null 2>&1 || true
    for pid in $(pgrep -f "qemu-system.* -name $name," || true); do kill -9 "$pid" 2>/dev/null || true; done
    [ -e "$ROOT/etc/xen/$name.cfg" ] && "${XK[@]}" delete-image "$name" --force --root "$ROOT" >/dev/null 2>&1
  done
  if [ -n "$SCRATCH" ]; then
    [ -e "$ROOT/etc/xen/$BASE.cfg" ] && "${XK[@]}" delete-image "$BASE" --force --root "$ROOT" >/dev/null 2>&1
    chattr -R -i "$SCRATCH" 2>/dev/null || true
    rm -rf "$SCRATCH"
  fi
  rm -rf "$LOGS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "$SCRATCH" ]; then
  log "building the base guest $BASE"
  head -c 12 /dev/urandom | base64 >"$ROOT/pw"
  node "$REPO/bin/xen-create-image.js" --root="$ROOT" --hostname="$BASE" --dhcp --dir=/srv \
    --password-file=/pw --quiet ${MIRROR:+--mirror="$MIRROR"} >"$LOGS/base.out" 2>&1 \
    || { echo "building the base failed:" >&2; tail -20 "$LOGS/base.out" >&2; exit 1; }
fi
for name in $(names); do
  "${XK[@]}" clone "$BASE" "$name" --linked --quiet --root "$ROOT" >"$LOGS/$name-clone.out" 2>&1 \
    || { echo "clone $name failed:" >&2; cat "$LOGS/$name-clone.out" >&2; exit 1; }
done
MEM_MIB=$(sed -n "s/^memory *= *'\{0,1\}\([0-9]*\).*/\1/p" "$ROOT/etc/xen/${PREFIX}1.cfg" | head -1)
AVAIL_BEFORE=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

log "starting $N guests"
t0=$(now_ms)
for name in $(names); do
  "${XM[@]}" create "$name" --root "$ROOT" >"$LOGS/$name-create.out" 2>&1 \
    || { echo "xm create $name failed:" >&2; cat "$LOGS/$name-create.out" >&2; exit 1; }
done
t_started=$(now_ms)
declare -A LOGIN=()
reached=0
while :; do
  for name in $(names); do
    [ -n "${LOGIN[$name]:-}" ] && continue
    if grep -qa 'login: ' "$ROOT/run/xenkit/qemu/$name/console.log" 2>/dev/null; then
      LOGIN[$name]=$(($(now_ms) - t0))
      reached=$((reached + 1))
      log "$name at its login prompt after $((LOGIN[$name] / 1000)) s"
    fi
  done
  [ "$reached" = "$N" ] && break
  if [ $(($(now_ms) - t0)) -gt $((BOOT_TIMEOUT * 1000)) ]; then
    echo "density.sh: only $reached of $N guests reached a login prompt in $BOOT_TIMEOUT s" >&2
    exit 1
  fi
  sleep 0.5
done
t_all=$(now_ms)
LOAD_ALL=$(cut -d' ' -f1-3 /proc/loadavg)
AVAIL_ALL=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
ROWS=""
for name in $(names); do
  pid=$(cat "$ROOT/run/xenkit/qemu/$name/qemu.pid")
  read -r rss guest tcg < <(rss_split "$pid" "$MEM_MIB")
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.1f", ($12 + $13) / hz }' "/proc/$pid/stat")
  ROWS+="| $name | $(awk -v ms="${LOGIN[$name]}" 'BEGIN { printf "%.1f", ms / 1000 }') | $cpu | $((rss / 1024)) | $(((rss - guest) / 1024)) | $((tcg / 1024)) |"$'\n'
done
LISTING=$("${XM[@]}" list --root "$ROOT")
LISTED=$(echo "$LISTING" | grep -c "^$PREFIX" || true)
log "stopping them all with xm shutdown -a -w"
t_stop=$(now_ms)
"${XM[@]}" shutdown -a -w --timeout 600 --root "$ROOT" >"$LOGS/shutdown.out" 2>&1 \
  || { echo "xm shutdown -a -w failed:" >&2; cat "$LOGS/shutdown.out" >&2; exit 1; }
t_stopped=$(now_ms)
LEFT=$(for name in $(names); do pgrep -f "qemu-system.* -name $name," || true; done | wc -l)
secs() { awk -v ms="$1" 'BEGIN { printf "%.1f", ms / 1000 }'; }

SECTION=$(cat <<EOF
## Density: \`bench/density.sh --guests $N\`, $(date -u '+%Y-%m-%d %H:%M UTC')

$N linked clones of one Quick start guest (${MEM_MIB}M, 1 vCPU, DHCP), started by \`xm create\` one after
the other on $(nproc) CPUs ($(awk '/^MemTotal:/ { print int($2 / 1048576) }' /proc/meminfo) GiB RAM), QEMU $(qemu-system-x86_64 --version | head -1 | sed 's/^QEMU emulator version //'), xenkit $(git -C "$REPO" rev-parse --short HEAD).
Load average before: $LOAD_BEFORE; when the last guest reached its login prompt: $LOAD_ALL.

- all $N \`xm create\` commands: $(secs $((t_started - t0))) s; first \`xm create\` to the last login prompt: **$(secs $((t_all - t0))) s**
- host MemAvailable: $AVAIL_BEFORE MiB before, $AVAIL_ALL MiB with all $N at their login prompt ($(((AVAIL_BEFORE - AVAIL_ALL) / N)) MiB per guest)
- \`xm list\` showed $LISTED of the $N guests; \`xm shutdown -a -w\` stopped them all in $(secs $((t_stopped - t_stop))) s ($LEFT QEMU left)

| guest | login prompt after (s) | QEMU CPU (s) | QEMU RSS (MiB) | overhead: RSS minus guest RAM (MiB) | of it TCG cache (MiB) |
|---|---|---|---|---|---|
${ROWS%$'\n'}
EOF
)
echo
echo "$SECTION"
echo
echo "$LISTING"
[ -z "$OUT" ] || printf '\n%s\n' "$SECTION" >>"$OUT"
