#!/bin/bash
# Benchmark: xenkit's xen-create-image against xen-tools 4.9.2, same options, same run.
#
#   bench/create-image.sh [--runs N] [--cold-runs N] [--warm-runs N] [--case all|cold|warm]
#                         [--mirror URL] [--out FILE]
#
# Guest: bookworm, 2G ext4 root, 512M swap, DHCP, sparse images, the same mirror.
#   cold: xen-tools --cache=no with an empty /var/cache/apt/archives;
#         xenkit --no-cache with a fresh --root (so its .deb cache is empty too).
#   warm: xen-tools --cache=yes after a priming run (its .debs in /var/cache/apt/archives);
#         xenkit after a priming run that built its root-tree cache entry.
# Runs alternate between the two tools so both see the same machine load. Reports medians, the
# ratios, and the peak RSS of the xenkit node process itself (XENKIT_REPORT_RUSAGE=1:
# getrusage(RUSAGE_SELF), children excluded). Writes bench/RESULTS.md; with --case cold or warm
# (one case only) it prints the table and writes only the --out file, if one is named.
#
# The host's /var/cache/apt/archives/*.deb are moved aside for the run (xen-tools --cache=yes
# would copy all of them into the guest) and moved back at the end; everything the bench made
# (scratch dirs, guests, /var/log/xen-tools/xkb-*.log, the .debs xen-tools left) is removed.
set -euo pipefail

RUNS=3
COLD_RUNS=""
WARM_RUNS=""
MIRROR=http://deb.debian.org/debian
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT="$REPO/bench/RESULTS.md"
OUT_GIVEN=0
CASE=all
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --cold-runs) COLD_RUNS=$2; shift 2 ;;
    --warm-runs) WARM_RUNS=$2; shift 2 ;;
    --mirror) MIRROR=$2; shift 2 ;;
    --out) OUT=$2; OUT_GIVEN=1; shift 2 ;;
    --case) CASE=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "create-image.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
COLD_RUNS=${COLD_RUNS:-$RUNS}
WARM_RUNS=${WARM_RUNS:-$RUNS}
case "$CASE" in
  all) ;;
  cold) WARM_RUNS=0 ;;
  warm) COLD_RUNS=0 ;;
  *) echo "create-image.sh: --case is all, cold or warm, not $CASE" >&2; exit 2 ;;
esac

[ "$(id -u)" = 0 ] || { echo "create-image.sh: run as root (both tools make filesystems)" >&2; exit 2; }
[ -x /usr/bin/xen-create-image ] || { echo "create-image.sh: xen-tools is not installed" >&2; exit 2; }
[ -f "$REPO/dist/bundle/cli.mjs" ] || (cd "$REPO" && npm run build >/dev/null)

ARCHIVES=/var/cache/apt/archives
WORK=$(mktemp -d /var/tmp/xenkit-bench.XXXXXX)
HELD="$WORK/held-debs"
mkdir -p "$HELD" "$WORK/xt/dir" "$WORK/xt/etc" "$WORK/logs"

# shellcheck source=lib/pool-refill.sh
. "$REPO/bench/lib/pool-refill.sh"

restore() {
  wait_pool_refills "$WORK"
  # Our .debs out, the host's back in; then every scratch file and log of ours.
  find "$ARCHIVES" -maxdepth 1 -name '*.deb' -delete 2>/dev/null || true
  find "$HELD" -maxdepth 1 -name '*.deb' -exec mv -n -t "$ARCHIVES" {} + 2>/dev/null || true
  rm -f /var/log/xen-tools/xkb-*.log
  rm -rf "$WORK"
}
trap restore EXIT
trap 'exit 130' INT TERM
find "$ARCHIVES" -maxdepth 1 -name '*.deb' -exec mv -t "$HELD" {} +

COMMON=(--dist=bookworm --arch=amd64 --size=2G --swap=512M --fs=ext4 --dhcp --image=sparse --mirror="$MIRROR" --nohosts)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", b - a }'; }  # awk: bc is not always installed

# run_xentools NAME CACHE: prints seconds
run_xentools() {
  local name=$1 cache=$2 t0 t1
  t0=$(now)
  if ! /usr/bin/xen-create-image --hostname="$name" "${COMMON[@]}" --cache="$cache" --install-method=debootstrap \
      --dir="$WORK/xt/dir" --output="$WORK/xt/etc" >"$WORK/logs/$name.out" 2>&1; then
    echo "xen-tools run $name failed; see below" >&2; tail -20 "$WORK/logs/$name.out" >&2; exit 1
  fi
  t1=$(now)
  grep -q "Installation Summary" "$WORK/logs/$name.out" || { echo "xen-tools $name: no summary" >&2; exit 1; }
  rm -rf "$WORK/xt/dir/domains/$name" "$WORK/xt/etc/$name.cfg"
  elapsed "$t0" "$t1"
}

# run_xenkit ROOT NAME [EXTRA...]: prints "seconds maxrss_kb"
run_xenkit() {
  local root=$1 name=$2 t0 t1 rss
  shift 2
  mkdir -p "$root" && echo pw-bench-123456 >"$root/pw"
  t0=$(now)
  if ! XENKIT_REPORT_RUSAGE=1 node "$REPO/bin/xen-create-image.js" --root="$root" --hostname="$name" "${COMMON[@]}" \
      --dir=/srv --password-file=/pw --quiet "$@" >"$WORK/logs/$name.out" 2>"$WORK/logs/$name.err"; then
    echo "xenkit run $name failed" >&2; tail -20 "$WORK/logs/$name.err" >&2; exit 1
  fi
  t1=$(now)
  wait_pool_refills "$root"
  rss=$(sed -n 's/^xenkit-rusage: maxrss_kb=\([0-9]*\)$/\1/p' "$WORK/logs/$name.err" | tail -1)
  rm -rf "$root/srv/domains/$name" "$root/etc/xen/$name.cfg"
  echo "$(elapsed "$t0" "$t1") ${rss:-0}"
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

declare -a XT_COLD=() XK_COLD=() XT_WARM=() XK_WARM=() RSS=() RSS_COLD=() RSS_WARM=()
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

for i in $(seq 1 "$COLD_RUNS"); do
  find "$ARCHIVES" -maxdepth 1 -name '*.deb' -delete
  log "cold $i/$COLD_RUNS: xen-tools --cache=no"
  XT_COLD+=("$(run_xentools "xkb-xt-cold$i" no)")
  log "  xen-tools cold: ${XT_COLD[-1]} s"
  log "cold $i/$COLD_RUNS: xenkit --no-cache (fresh root)"
  read -r secs rss < <(run_xenkit "$WORK/xk-cold$i" "xkb-xk-cold$i" --no-cache)
  rm -rf "$WORK/xk-cold$i"
  [ -n "${secs:-}" ] || exit 1
  XK_COLD+=("$secs"); RSS+=("$rss"); RSS_COLD+=("$rss")
  log "  xenkit cold: $secs s, node peak RSS $rss KB"
done

PRIME_XT=0 PRIME_XK=0 PRIME_RSS=0
if [ "$WARM_RUNS" -gt 0 ]; then
  find "$ARCHIVES" -maxdepth 1 -name '*.deb' -delete
  log "priming xen-tools (--cache=yes)"
  PRIME_XT=$(run_xentools xkb-xt-prime yes)
  log "  xen-tools priming: $PRIME_XT s"
  log "priming xenkit (builds the root-tree cache entry)"
  read -r PRIME_XK PRIME_RSS < <(run_xenkit "$WORK/xk-warm" xkb-xk-prime)
  [ -n "${PRIME_XK:-}" ] || exit 1
  RSS+=("$PRIME_RSS")
  log "  xenkit priming: $PRIME_XK s, node peak RSS $PRIME_RSS KB"
fi

for i in $(seq 1 "$WARM_RUNS"); do
  log "warm $i/$WARM_RUNS: xen-tools --cache=yes"
  XT_WARM+=("$(run_xentools "xkb-xt-warm$i" yes)")
  log "  xen-tools warm: ${XT_WARM[-1]} s"
  read -r secs rss < <(run_xenkit "$WORK/xk-warm" "xkb-xk-warm$i")
  [ -n "${secs:-}" ] || exit 1
  XK_WARM+=("$secs"); RSS+=("$rss"); RSS_WARM+=("$rss")
  log "  xenkit warm: $secs s, node peak RSS $rss KB"
done

MAX_RSS=$(printf '%s\n' "${RSS[@]}" | sort -n | tail -1)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
mb() { printf '%s ' "$@" | awk '{for(i=1;i<=NF;i++) printf "%s%.0f", (i>1?", ":""), $i/1024}'; }
fmt() { printf '%s' "$*" | tr '\n' ' ' | sed 's/ *$//' | awk -v d="${DIGITS:-1}" '{for(i=1;i<=NF;i++) printf "%s%.*f", (i>1?", ":""), d, $i}'; }

ROWS=""
RSS_NOTE=""
if [ "$COLD_RUNS" -gt 0 ]; then
  M_XT_COLD=$(printf '%s\n' "${XT_COLD[@]}" | median)
  M_XK_COLD=$(printf '%s\n' "${XK_COLD[@]}" | median)
  R_COLD=$(awk -v a="$M_XT_COLD" -v b="$M_XK_COLD" 'BEGIN {printf "%.2f", a / b}')
  ROWS+="| cold (no caches) | $(printf '%.1f' "$M_XT_COLD") s | $(printf '%.1f' "$M_XK_COLD") s | ${R_COLD}x | $(fmt "${XT_COLD[@]}") / $(fmt "${XK_COLD[@]}") |"$'\n'
  RSS_NOTE+="cold $(mb "${RSS_COLD[@]}") MB"
fi
if [ "$WARM_RUNS" -gt 0 ]; then
  M_XT_WARM=$(printf '%s\n' "${XT_WARM[@]}" | median)
  M_XK_WARM=$(printf '%s\n' "${XK_WARM[@]}" | median)
  R_WARM=$(awk -v a="$M_XT_WARM" -v b="$M_XK_WARM" 'BEGIN {printf "%.1f", a / b}')
  ROWS+="| warm (caches primed) | $(printf '%.1f' "$M_XT_WARM") s | $(printf '%.2f' "$M_XK_WARM") s | ${R_WARM}x | $(fmt "${XT_WARM[@]}") / $(DIGITS=2 fmt "${XK_WARM[@]}") |"$'\n'
  ROWS+="| priming run | $(printf '%.1f' "$PRIME_XT") s | $(printf '%.1f' "$PRIME_XK") s | | |"$'\n'
  RSS_NOTE+="${RSS_NOTE:+, }priming $(mb "$PRIME_RSS") MB, warm $(mb "${RSS_WARM[@]}") MB"
fi

TABLE=$(cat <<EOF
| case | xen-tools 4.9.2 (median) | xenkit (median) | xenkit faster by | runs (xen-tools / xenkit, s) |
|---|---|---|---|---|
${ROWS%$'\n'}

Peak RSS of the xenkit node process (getrusage, children excluded): largest $((MAX_RSS / 1024)) MB; $RSS_NOTE.
EOF
)

echo
echo "$TABLE"

if [ "$CASE" != all ] && [ "$OUT_GIVEN" = 0 ]; then
  log "one case only: $OUT left as it is (name a file with --out to keep this table)"
  exit 0
fi
CPU=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
# The file's later sections (other benches, earlier passes) are kept: this run replaces only the
# title, machine, options and results at its top.
REST=""
[ -f "$OUT" ] && REST=$(awk 'found && /^## /{p=1} /^## Results \(median of the runs\)/{found=1} p' "$OUT")
{
  echo "# create-image benchmark: xenkit vs xen-tools 4.9.2"
  echo
  echo "Made by \`bench/create-image.sh --cold-runs $COLD_RUNS --warm-runs $WARM_RUNS\` on $(date -u '+%Y-%m-%d %H:%M UTC')."
  echo
  echo "## Machine"
  echo "- $(nproc) CPUs ($CPU), $(free -g | awk '/^Mem:/ {print $2}') GB RAM, $(. /etc/os-release; echo "$PRETTY_NAME"), kernel $(uname -r)"
  echo "- load average at start: $LOAD_START; at end: $LOAD_END (a shared machine: other jobs ran meanwhile, so the"
  echo "  runs alternate between the tools and only the ratios within this run are meaningful)"
  echo "- xen-tools $(dpkg-query -W -f '${Version}' xen-tools), $(mmdebstrap --version), $(debootstrap --version), node $(node --version), xenkit $(cd "$REPO" && git rev-parse --short HEAD)"
  echo "- mirror $MIRROR"
  echo
  echo "## Options (identical for both)"
  echo "\`--hostname=NAME ${COMMON[*]}\`"
  echo "- xen-tools: \`--install-method=debootstrap --dir=SCRATCH --output=SCRATCH\` plus \`--cache=no\` (cold, /var/cache/apt/archives emptied) or \`--cache=yes\` (warm, after a priming run)"
  echo "- xenkit: \`--root=SCRATCH --dir=/srv --password-file=/pw --quiet\` plus \`--no-cache\` with a fresh root (cold: empty .deb cache too) or nothing (warm: root-tree cache built by a priming run)"
  echo
  echo "## Results (median of the runs)"
  echo
  echo "$TABLE"
  if [ -n "$REST" ]; then
    echo
    echo "$REST"
  fi
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
log "wrote $OUT (its top sections; the rest kept)"
