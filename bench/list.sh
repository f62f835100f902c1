#!/bin/bash
# Benchmark: listing many guests. xenkit's `xen-list-images` and `xm list --all` against
# xen-tools 4.9.2's `xen-list-images --test DIR`, on N generated guests.
#
#   bench/list.sh [--guests N] [--runs R] [--out FILE]
#
# Makes a scratch root with N xen-tools-style configs (/etc/xen/gNNNN.cfg: two file disks, DHCP,
# a MAC) and their sparse images (4G disk, 256M swap, no data), then times each command R times,
# alternating, wall clock of the whole command (node or perl start included), and reports the
# medians and the ratio. Nothing runs: every guest is stopped, so each command also answers "is it
# running?" for every guest (xenkit: QEMU registry, processes holding the images, loop devices;
# xen-tools: `xl list`, absent here). Target: N=1000 under 150 ms for both xenkit commands, and
# faster than xen-tools in the same run. The xenkit commands load dist/bundle/list.cjs (xm) and
# list-images.cjs (xen-list-images), not the whole CLI. The machine's load matters.
# NODE_EXTRA_CA_CERTS is unset for every run (the report says when it was set): node parses each
# certificate it names at every start, before any script runs; with a distribution's whole bundle
# (~140 certificates) that is 0.4 G instructions, 4-5 times node's own start, and it has nothing
# to do with listing. --keep-ca-certs leaves it.
set -euo pipefail

GUESTS=1000
RUNS=5
OUT=""
KEEP_CA=0
REPO=$(cd "$(dirname "$0")/.." && pwd)
while [ $# -gt 0 ]; do
  case "$1" in
    --guests) GUESTS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --keep-ca-certs) KEEP_CA=1; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "list.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
command -v xen-list-images >/dev/null || { echo "list.sh: xen-tools is not installed (apt-get install xen-tools)" >&2; exit 2; }
(cd "$REPO" && npm run build >/dev/null)
ca_note=""
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ]; then
  if [ "$KEEP_CA" = 1 ]; then
    ca_note=" NODE_EXTRA_CA_CERTS set for every run ($(grep -c 'BEGIN CERT' "$NODE_EXTRA_CA_CERTS" 2>/dev/null || echo '?') certificates)."
  else
    ca_note=" NODE_EXTRA_CA_CERTS was set ($(grep -c 'BEGIN CERT' "$NODE_EXTRA_CA_CERTS" 2>/dev/null || echo '?') certificates) and is unset for every run."
    unset NODE_EXTRA_CA_CERTS
  fi
fi

WORK=$(mktemp -d /var/tmp/xenkit-bench-list.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
ROOT=$WORK/root
mkdir -p "$ROOT/etc/xen" "$ROOT/srv/domains"
for i in $(seq 1 "$GUESTS"); do
  n=$(printf 'g%04d' "$i")
  mkdir -p "$ROOT/srv/domains/$n"
  truncate -s 4G "$ROOT/srv/domains/$n/disk.img"
  truncate -s 256M "$ROOT/srv/domains/$n/swap.img"
  cat > "$ROOT/etc/xen/$n.cfg" <<EOF
#
# Configuration file for the Xen instance $n, created
# by xen-tools 4.9.2 on Sat Dec  5 12:00:00 2026.
#
kernel      = '/boot/vmlinuz-6.1.0-28-amd64'
ramdisk     = '/boot/initrd.img-6.1.0-28-amd64'
vcpus       = '1'
memory      = '256'
root        = '/dev/xvda2 ro'
disk        = [
                  'file:/srv/domains/$n/disk.img,xvda2,w',
                  'file:/srv/domains/$n/swap.img,xvda1,w',
              ]
name        = '$n'
dhcp        = 'dhcp'
vif         = [ 'mac=00:16:3E:00:$(printf %02x $((i / 256))):$(printf %02x $((i % 256)))' ]
on_poweroff = 'destroy'
on_reboot   = 'restart'
on_crash    = 'restart'
EOF
done

# time_ms CMD...: the wall clock of one run in ms (output discarded; a failure stops the bench).
time_ms() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>"$WORK/err" || { echo "list.sh: failed: $*" >&2; cat "$WORK/err" >&2; exit 1; }
  end=$(date +%s%N)
  echo $(( (end - start) / 1000000 ))
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# Warm the page cache once for each; the xenkit runs also write the code caches beside the listing
# bundle when a build left none (what the first listing after an install does; see list-loader.ts).
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
xen-list-images --test "$ROOT/etc/xen" >/dev/null 2>&1 || true
node "$REPO/bin/xen-list-images.js" --root "$ROOT" >/dev/null
node "$REPO/bin/xm.js" list --all --root "$ROOT" >/dev/null

xt=() xk=() xm=() n0=()
for _ in $(seq 1 "$RUNS"); do
  n0+=("$(time_ms node -e 0)")
  xt+=("$(time_ms xen-list-images --test "$ROOT/etc/xen")")
  xk+=("$(time_ms node "$REPO/bin/xen-list-images.js" --root "$ROOT")")
  xm+=("$(time_ms node "$REPO/bin/xm.js" list --all --root "$ROOT")")
done
lines=$(node "$REPO/bin/xen-list-images.js" --root "$ROOT" | grep -c '^Name' || true)
[ "$lines" = "$GUESTS" ] || { echo "list.sh: xenkit listed $lines guests, not $GUESTS" >&2; exit 1; }

mt=$(echo "${xt[*]}" | median)
mk=$(echo "${xk[*]}" | median)
mx=$(echo "${xm[*]}" | median)
m0=$(echo "${n0[*]}" | median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
report=$(cat <<EOF
## Listing $GUESTS guests: \`bench/list.sh --guests $GUESTS --runs $RUNS\`, $(date -u '+%Y-%m-%d %H:%M UTC')

Load average at the start: $load_start, at the end: $(cut -d' ' -f1-3 /proc/loadavg); xenkit $(cd "$REPO" && git rev-parse --short HEAD), node $(node --version).$ca_note

| command                                   | median  | runs (ms)          | speed vs xen-tools (>1: faster) |
| ----------------------------------------- | ------- | ------------------ | ------------------------------- |
| xen-tools 4.9.2 \`xen-list-images --test\`  | $mt ms | ${xt[*]} |              |
| xenkit \`xen-list-images\`                  | $mk ms | ${xk[*]} | $(ratio "$mt" "$mk") |
| xenkit \`xm list --all\`                    | $mx ms | ${xm[*]} | $(ratio "$mt" "$mx") |
| \`node -e 0\` (node's own start, the floor)  | $m0 ms | ${n0[*]} |              |
EOF
)
echo "$report"
[ -n "$OUT" ] && printf '\n%s\n' "$report" >> "$OUT"
exit 0
