#!/bin/bash
# Benchmark: `xenkit backup` of a stopped guest against tar -cSzf, dd | gzip and
# qemu-img convert -c -O qcow2 on the same image, in one run (only the ratios within a run mean
# much on a shared machine).
#
#   bench/backup.sh [--root DIR --guest NAME] [--out FILE]
#
# Without --root it builds the Quick start guest in a scratch root (bookworm, 4G sparse ext4 root,
# 256M swap, DHCP). Measured: wall time and bytes stored for xenkit's first backup, a second of the
# unchanged guest, and one after 10 MiB of random data were written inside the guest's filesystem
# (loop mount); each other tool makes a full copy every time, so its first run stands for all
# three. borg (Debian's borgbackup, its default lz4 compression and files cache), when installed,
# makes the same three backups into its own repository. Restore: xenkit backup restore (sparse,
# chunks checked) against tar -xSzf and borg extract --sparse. Peak RSS of xenkit from
# /usr/bin/time. Not run in CI. Prints a Markdown table; appends it to FILE with --out.
set -euo pipefail

ROOT=""
GUEST=""
OUT=""
REPO=$(cd "$(dirname "$0")/.." && pwd)
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT=$2; shift 2 ;;
    --guest) GUEST=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "backup.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "backup.sh: run as root (it mounts the image)" >&2; exit 2; }
(cd "$REPO" && npm run build >/dev/null)
XK=(node "$REPO/bin/xenkit.js")

WORK=$(mktemp -d /var/tmp/xenkit-bench-backup.XXXXXX)
MNT=$WORK/mnt
cleanup() {
  mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"
  rm -rf "$WORK"
  [ -n "${BREPO:-}" ] && rm -rf "$BREPO"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$MNT" "$WORK/out"

if [ -z "$ROOT" ]; then
  ROOT=$WORK/root
  GUEST=bench
  mkdir -p "$ROOT"
  printf 'Bench-Backup-%s\n' "$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" > "$ROOT/pw"
  chmod 600 "$ROOT/pw"
  echo "building the guest (bookworm, 4G ext4, 256M swap)..." >&2
  node "$REPO/bin/xen-create-image.js" --root="$ROOT" --hostname=$GUEST --dist=bookworm --dir=/srv \
    --size=4G --swap=256M --dhcp --password-file=/pw --quiet >/dev/null
fi
IMG=$(sed -n "s/.*'file:\([^,]*disk\.img\),.*/\1/p" "$ROOT/etc/xen/$GUEST.cfg" | head -1)
case "$IMG" in /*) ;; *) echo "backup.sh: no disk.img in $ROOT/etc/xen/$GUEST.cfg" >&2; exit 2 ;; esac
[ -e "$IMG" ] || IMG=$ROOT$IMG
# Inside the root (--repo is a path under --root), removed at the end.
BREPO=$ROOT/var/lib/xenkit/bench-backups-$$

# timed NAME CMD...: wall seconds into $WORK/t.NAME, peak RSS (KB) into $WORK/m.NAME
timed() {
  local name=$1; shift
  /usr/bin/time -f '%e %M' -o "$WORK/tm" "$@" >/dev/null
  read -r secs rss < "$WORK/tm"
  echo "$secs" > "$WORK/t.$name"; echo "$rss" > "$WORK/m.$name"
}
size_of() { du -sb --apparent-size "$@" | awk '{s+=$1} END {print s}'; }
t() { cat "$WORK/t.$1"; }
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b/1048576}'; }

used=$(du -B1 "$IMG" | cut -f1)
echo "image $IMG: $(mib "$(stat -c %s "$IMG")") virtual, $(mib "$used") allocated" >&2
# Every tool reads the image warm from the page cache (dropping caches would slow everyone on a shared host).
cat "$IMG" > /dev/null
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

timed xk1 "${XK[@]}" backup create "$GUEST" --root "$ROOT" --repo "$BREPO" --quiet
b1=$(size_of "$BREPO")
timed xk2 "${XK[@]}" backup create "$GUEST" --root "$ROOT" --repo "$BREPO" --quiet
b2=$(size_of "$BREPO")
dir=$(dirname "$IMG"); base=$(basename "$IMG")
# borg stores the path it is given: it runs in the image's directory, its cache under $WORK.
export BORG_BASE_DIR=$WORK/borg-base BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
borg_create() { timed "$1" sh -c "cd '$dir' && borg create '$WORK/borg-repo::$1' '$base'"; }
BORG=$(command -v borg || true)
if [ -n "$BORG" ]; then
  borg init --encryption=none "$WORK/borg-repo"
  borg_create borg1
  g1=$(size_of "$WORK/borg-repo")
  borg_create borg2
  g2=$(size_of "$WORK/borg-repo")
fi
mount -o loop "$IMG" "$MNT"
head -c $((10 * 1024 * 1024)) /dev/urandom > "$MNT/root/bench-change.bin"
umount "$MNT"
timed xk3 "${XK[@]}" backup create "$GUEST" --root "$ROOT" --repo "$BREPO" --quiet
b3=$(size_of "$BREPO")
if [ -n "$BORG" ]; then
  borg_create borg3
  g3=$(size_of "$WORK/borg-repo")
fi
timed tar tar -cSzf "$WORK/out/disk.tgz" -C "$dir" "$base"
timed ddgz sh -c "dd if='$IMG' bs=4M status=none | gzip > '$WORK/out/disk.img.gz'"
timed qcow qemu-img convert -c -O qcow2 "$IMG" "$WORK/out/disk.qcow2"

# The newest snapshot restored over the (stopped) guest itself: the same state the tar was made of.
timed xkr "${XK[@]}" backup restore "$GUEST" --force --root "$ROOT" --repo "$BREPO" --quiet
mkdir -p "$WORK/untar"
timed untar tar -xSzf "$WORK/out/disk.tgz" -C "$WORK/untar"
cmp "$IMG" "$WORK/untar/$base" || { echo "backup.sh: the restored image differs" >&2; exit 1; }
if [ -n "$BORG" ]; then
  mkdir -p "$WORK/unborg"
  timed unborg sh -c "cd '$WORK/unborg' && borg extract --sparse '$WORK/borg-repo::borg3'"
  cmp "$IMG" "$WORK/unborg/$base" || { echo "backup.sh: borg's restored image differs" >&2; exit 1; }
fi
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

rss=$(sort -n "$WORK"/m.xk* | tail -1)
table=$(cat <<TABLE
| backup of the stopped guest ($(mib "$(stat -c %s "$IMG")") image, $(mib "$used") allocated) | time | bytes stored |
| --- | --- | --- |
| xenkit backup create, first | $(t xk1) s | $(mib "$b1") |
| xenkit backup create, unchanged | $(t xk2) s | +$(mib $((b2 - b1))) |
| xenkit backup create, after 10 MiB changed | $(t xk3) s | +$(mib $((b3 - b2))) |
| tar -cSzf (every run) | $(t tar) s | $(mib "$(size_of "$WORK/out/disk.tgz")") |
| dd \| gzip (every run) | $(t ddgz) s | $(mib "$(size_of "$WORK/out/disk.img.gz")") |
| qemu-img convert -c -O qcow2 (every run) | $(t qcow) s | $(mib "$(size_of "$WORK/out/disk.qcow2")") |
$(if [ -n "$BORG" ]; then
  echo "| borg create, first | $(t borg1) s | $(mib "$g1") |"
  echo "| borg create, unchanged | $(t borg2) s | +$(mib $((g2 - g1))) |"
  echo "| borg create, after 10 MiB changed | $(t borg3) s | +$(mib $((g3 - g2))) |"
fi)
| restore: xenkit backup restore (whole guest) | $(t xkr) s | |
| restore: tar -xSzf (disk.img) | $(t untar) s | |
$(if [ -n "$BORG" ]; then echo "| restore: borg extract --sparse (disk.img) | $(t unborg) s | |"; fi)

Peak RSS of xenkit: $((rss / 1024)) MB (first $(($(cat "$WORK/m.xk1") / 1024)), unchanged $(($(cat "$WORK/m.xk2") / 1024)), after the change $(($(cat "$WORK/m.xk3") / 1024)), restore $(($(cat "$WORK/m.xkr") / 1024)) MB). Load average at start $load_start, at end $load_end. The image was in the page cache for every tool.
TABLE
)
echo "$table"
if [ -n "$OUT" ]; then printf '\n%s\n' "$table" >> "$OUT"; fi
