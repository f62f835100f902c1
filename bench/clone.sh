#!/bin/bash
# Benchmark: `xenkit clone` of a real guest, full (sparse copy) and linked (qcow2 overlays).
#
#   bench/clone.sh [--runs N] [--out FILE]
#
# Builds one guest with xenkit's xen-create-image in a scratch root (bookworm, 2G ext4 sparse
# root, 256M swap, DHCP), then times N full and N linked clones of it, alternating, each clone
# deleted before the next. Time: wall clock of the whole `xenkit clone` command (node start
# included), and its peak RSS (/usr/bin/time). xen-tools 4.9.2 has no clone command, so there is
# no ratio; the targets are absolute: full clone of a 2G sparse image < 2 s, linked < 0.5 s.
# Three kinds: full and linked with the host key pool filled (`xenkit cache host-keys fill`: the
# RSA host key is taken from it and a niced background refill replaces it, as in steady use;
# nothing waits for the refill), and linked-nopool with the pool emptied first, so the clone
# makes its RSA key on the spot (0.3-2 s of prime search here).
# Prints a Markdown table (medians) and appends it to FILE when --out is given.
set -euo pipefail

RUNS=3
OUT=""
REPO=$(cd "$(dirname "$0")/.." && pwd)
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "clone.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "clone.sh: run as root (clones mount images)" >&2; exit 2; }
(cd "$REPO" && npm run build >/dev/null)

WORK=$(mktemp -d /var/tmp/xenkit-bench-clone.XXXXXX)
# shellcheck source=lib/pool-refill.sh
. "$REPO/bench/lib/pool-refill.sh"
cleanup() {
  wait_pool_refills "$WORK"
  # Clones first (deleting the last linked clone makes the source writable again), then the source.
  for cfg in "$WORK"/root/etc/xen/c*.cfg; do
    [ -e "$cfg" ] && node "$REPO/bin/xenkit.js" delete-image "$(basename "$cfg" .cfg)" --force --root "$WORK/root" >/dev/null 2>&1
  done
  [ -e "$WORK/root/etc/xen/src.cfg" ] && node "$REPO/bin/xenkit.js" delete-image src --force --root "$WORK/root" >/dev/null 2>&1
  chattr -R -i "$WORK" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ROOT=$WORK/root
mkdir -p "$ROOT"
printf 'Bench-Clone-%s\n' "$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" > "$ROOT/pw"
chmod 600 "$ROOT/pw"

echo "building the source guest (bookworm, 2G ext4, 256M swap)..."
node "$REPO/bin/xen-create-image.js" --root="$ROOT" --hostname=src --dist=bookworm --dir=/srv \
  --size=2G --swap=256M --dhcp --password-file=/pw --quiet >/dev/null

node "$REPO/bin/xenkit.js" cache host-keys fill --count 4 --root "$ROOT" --quiet >/dev/null

# run KIND N: one clone, then its deletion; writes "SECONDS MAXRSS_KB STEP_TIMINGS_JSON" to $WORK/result
run() {
  local kind=$1 n=$2 name="c${1//-/}$2" extra=()
  [ "$kind" != full ] && extra=(--linked)
  [ "$kind" = linked-nopool ] && node "$REPO/bin/xenkit.js" cache host-keys clear --root "$ROOT" >/dev/null
  /usr/bin/time -f '%e %M' -o "$WORK/time" \
    node "$REPO/bin/xenkit.js" clone src "$name" "${extra[@]}" --root "$ROOT" --json > "$WORK/out.json"
  local timings
  timings=$(node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));console.log(JSON.stringify(r.timings??{}))' "$WORK/out.json")
  echo "$(cat "$WORK/time") $timings" > "$WORK/result"
  node "$REPO/bin/xenkit.js" delete-image "$name" --root "$ROOT" >/dev/null
  # Untimed: the pool back as it was for the next pooled run.
  [ "$kind" = linked-nopool ] && node "$REPO/bin/xenkit.js" cache host-keys fill --count 4 --root "$ROOT" --quiet >/dev/null
  return 0
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

declare -A SECS RSS
for i in $(seq "$RUNS"); do
  for kind in full linked linked-nopool; do
    run "$kind" "$i"
    read -r s kb timings < "$WORK/result"
    echo "$kind run $i: $s s, peak RSS $((kb / 1024)) MB, steps (ms): $timings"
    SECS[$kind]+="$s "
    RSS[$kind]+="$((kb / 1024)) "
  done
done

table=$(
  echo "| clone         | runs (s)            | median (s) | target  | peak RSS (MB) |"
  echo "| ------------- | ------------------- | ---------- | ------- | ------------- |"
  for kind in full linked linked-nopool; do
    target=$([ "$kind" = full ] && echo '< 2 s' || echo '< 0.5 s')
    m=$(tr ' ' '\n' <<<"${SECS[$kind]}" | grep . | median)
    r=$(tr ' ' '\n' <<<"${RSS[$kind]}" | grep . | median)
    printf '| %-13s | %-19s | %-10s | %-7s | %-13s |\n' "$kind" "${SECS[$kind]% }" "$m" "$target" "$r"
  done
)
echo
echo "$table"
if [ -n "$OUT" ]; then
  {
    echo
    echo "## Clones: \`bench/clone.sh --runs $RUNS\`, $(date -u '+%Y-%m-%d %H:%M') UTC"
    echo
    echo "2G ext4 sparse root + 256M swap (bookworm), $(nproc) CPUs, load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "Wall clock of the whole \`xenkit clone\` command, node start included; full and linked take the RSA host key from a filled pool, linked-nopool makes it on the spot."
    echo
    echo "$table"
  } >> "$OUT"
fi
