#!/bin/sh
# Captures what `xenkit detect` reads from this machine into DIR, as a tree that stands for `/`
# (`xenkit detect --probe-root DIR`, and the unit tests under test/fixtures/detect/). Only the
# files the readers use are copied, and nothing private: of PID 1's environment only container=,
# of the kernel log only the hypervisor lines. The cpuid device becomes text (LEAF: EAX EBX ECX
# EDX, hex). POSIX sh with busybox-compatible tools, so it also runs in a minimal guest.
# Usage: scripts/capture-detect.sh DIR   (as root, for CPUID and the kernel log)
set -u
out=${1:?usage: capture-detect.sh DIR}
mkdir -p "$out" || exit 1

copy() { # copy FILE: its content, if readable, under the same path
  [ -r "$1" ] || return 0
  mkdir -p "$out$(dirname "$1")"
  cat "$1" > "$out$1" 2>/dev/null || rm -f "$out$1"
}
mark_dir() { mkdir -p "$out$1"; }

for f in /proc/cmdline /proc/1/comm /proc/1/cmdline /proc/1/cgroup /proc/2/stat /proc/self/uid_map \
  /proc/sys/kernel/random/entropy_avail /proc/xen/capabilities \
  /sys/hypervisor/type /sys/hypervisor/guest_type /sys/hypervisor/uuid /sys/hypervisor/version/major /sys/hypervisor/version/minor \
  /sys/class/dmi/id/sys_vendor /sys/class/dmi/id/product_name /sys/class/dmi/id/bios_vendor \
  /sys/devices/system/clocksource/clocksource0/current_clocksource /sys/class/misc/hw_random/rng_current; do
  copy "$f"
done
# The first processor of /proc/cpuinfo is enough (its flags).
mkdir -p "$out/proc" && sed '/^$/q' /proc/cpuinfo > "$out/proc/cpuinfo"
# An unreadable environment (PID 1 not dumpable) is left out.
if env1=$( { tr '\0' '\n' < /proc/1/environ; } 2>/dev/null); then
  printf '%s\n' "$env1" | grep '^container=' | tr '\n' '\0' > "$out/proc/1/environ"
fi
# Kernel threads that name Xen (children of kthreadd).
for s in /proc/[0-9]*/stat; do
  line=$(cat "$s" 2>/dev/null) || continue
  case "$line" in
    *"(xenbus) S 2 "* | *"(xenwatch) S 2 "* | *"(xenbus) "*" 2 "* | *"(xenwatch) "*" 2 "*) copy "$s" ;;
  esac
done
for bus in xen xen-backend virtio; do
  for d in /sys/bus/$bus/devices/*; do
    [ -e "$d" ] || continue
    mark_dir "$d"
    copy "$d/device"
  done
done
for n in /sys/class/net/*; do
  [ -e "$n/device" ] || continue
  copy "$n/address"
  mark_dir "$n/device"
done
for r in /sys/class/rtc/*; do
  [ -e "$r" ] || continue
  copy "$r/name"
  copy "$r/time"
done
[ -e /.dockerenv ] && : > "$out/.dockerenv"
[ -e /run/.containerenv ] && mkdir -p "$out/run" && : > "$out/run/.containerenv"

# Kernel log: the lines that name a hypervisor (-s: busybox reads only the last 16 KiB by default).
mkdir -p "$out/dev/cpu/0"
dmesg -s 1048576 2>/dev/null | grep -E 'Hypervisor detected|Booting .*kernel on|Xen version' > "$out/dev/kmsg" || true

# CPUID through the kernel's cpuid device (module loaded for the capture when needed).
loaded=
if [ ! -e /dev/cpu/0/cpuid ] && modprobe cpuid 2>/dev/null; then loaded=1; fi
if [ -r /dev/cpu/0/cpuid ]; then
  : > "$out/dev/cpu/0/cpuid"
  for leaf in 0 1 40000000 40000001 40000100; do
    # One 16-byte read at file offset LEAF (the device refuses reads of other sizes).
    words=$(dd if=/dev/cpu/0/cpuid bs=16 iflag=skip_bytes skip=$((0x$leaf)) count=1 2>/dev/null | od -An -v -tx4)
    [ -n "$words" ] && echo "$(printf %08x $((0x$leaf))): $(echo $words)" >> "$out/dev/cpu/0/cpuid"
  done
else
  rmdir "$out/dev/cpu/0" "$out/dev/cpu" 2>/dev/null
fi
[ -n "$loaded" ] && modprobe -r cpuid 2>/dev/null

# What the other detectors say here, where they are installed: replayed beside xenkit's verdict
# (`--probe-root` cannot ask them, they only read the live machine). systemd-detect-virt: the
# --vm answer, then the --container one; virt-what: its facts, one per line.
if command -v systemd-detect-virt >/dev/null 2>&1; then
  mkdir -p "$out/.capture"
  { systemd-detect-virt --vm; systemd-detect-virt --container; } > "$out/.capture/systemd-detect-virt" 2>/dev/null
fi
if command -v virt-what >/dev/null 2>&1; then
  mkdir -p "$out/.capture"
  virt-what > "$out/.capture/virt-what" 2>/dev/null || rm -f "$out/.capture/virt-what"
fi
exit 0
