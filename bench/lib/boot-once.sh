#!/bin/bash
# One timed boot of an existing guest with xenkit's `xm create`, for the boot benches.
#
#   bench/lib/boot-once.sh ROOT CFG NAME OUTDIR [PASSWORD-FILE [COMMAND...]]
#
# Writes OUTDIR/NAME-timeline.tsv (every console line stamped with the seconds since `xm create`
# started, see console-timeline.mjs) and prints one line "login_s qemu_cpu_s create_s rss_kb guest_ram_kb
# tcg_kb" (QEMU's memory at the login prompt, from smaps; guest RAM = the mapping of the cfg's
# memory size). With PASSWORD-FILE, root then logs in on the console and runs each COMMAND
# (output in OUTDIR/NAME-probe.jsonl). The guest is then destroyed and its root filesystem's
# journal replayed, so the next `xm create` can read the kernel out of it.
set -euo pipefail
ROOT=$1 CFG=$2 NAME=$3 OUTDIR=$4
PWFILE=${5:-}
shift $(($# < 5 ? $# : 5))
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=qemu-mem.sh
. "$HERE/qemu-mem.sh"
REPO=$(cd "$HERE/../.." && pwd)
XM=(node "$REPO/bin/xm.js")
RUNDIR="$ROOT/run/xenkit/qemu/$NAME"
MEM_MIB=$(sed -n "s/^maxmem *= *'\{0,1\}\([0-9]*\).*/\1/p" "$CFG" | head -1)
[ -n "$MEM_MIB" ] || MEM_MIB=$(sed -n "s/^memory *= *'\{0,1\}\([0-9]*\).*/\1/p" "$CFG" | head -1)
mkdir -p "$OUTDIR"

now_ms() { date +%s%3N; }
t0=$(now_ms)
"${XM[@]}" create --root "$ROOT" "$CFG" >"$OUTDIR/$NAME-create.out" 2>&1 \
  || { echo "xm create $NAME failed:" >&2; cat "$OUTDIR/$NAME-create.out" >&2; exit 1; }
t1=$(now_ms)
# The console log appears with QEMU; the timeline stamps lines against t0.
status=0
node "$HERE/console-timeline.mjs" "$RUNDIR/console.log" "$t0" 600 "$RUNDIR/qemu.pid" \
  >"$OUTDIR/$NAME-timeline.tsv" || status=$?
login=$(tail -1 "$OUTDIR/$NAME-timeline.tsv" | cut -f1)
pid=$(cat "$RUNDIR/qemu.pid")
# QEMU's CPU time so far (utime + stime): the work of the boot, whatever else the host ran.
cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.1f", ($12 + $13) / hz }' "/proc/$pid/stat")
read -r rss guest tcg < <(rss_split "$pid" "$MEM_MIB")
if [ "$status" = 0 ] && [ -n "$PWFILE" ]; then
  node "$HERE/console-run.mjs" "$RUNDIR/console.sock" root "$PWFILE" 300 "$@" \
    >"$OUTDIR/$NAME-probe.jsonl" 2>"$OUTDIR/$NAME-probe.err" || true
fi
"${XM[@]}" destroy --root "$ROOT" "$NAME" >/dev/null 2>&1 || true
disk=$(sed -n "s/^ *'\(file:\)\{0,1\}\([^,']*\),[a-z]*da2\{0,1\},.*/\2/p" "$CFG" | head -1)
[ -n "$disk" ] && [ -f "$disk" ] && { e2fsck -E journal_only -y "$disk" >/dev/null 2>&1 || true; }
[ "$status" = 0 ] || { echo "$NAME: no login prompt; console tail:" >&2; tail -5 "$OUTDIR/$NAME-timeline.tsv" >&2; exit 1; }
echo "$login $cpu $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1000 }') $rss $guest $tcg"
