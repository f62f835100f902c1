#!/usr/bin/env bash
# Installs what xenkit needs on a Debian/Ubuntu host (and, with --test, what its test suite needs),
# then the npm dependencies. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
want_links=0
for arg in "$@"; do
  case "$arg" in
    --test) want_tests=1 ;;
    --link) want_links=1 ;;
    *) echo "usage: setup-host.sh [--test] [--link]" >&2; exit 2 ;;
  esac
done

# Tools xenkit drives to build and run guests.
packages=(debootstrap mmdebstrap e2fsprogs xfsprogs btrfs-progs dosfstools util-linux mount fuse3 qemu-system-common
  qemu-utils qemu-system-x86 openssh-client whois rsync zstd tar gzip xz-utils ca-certificates
  debian-archive-keyring iproute2 dnsmasq-base dpkg-dev passt slirp4netns extlinux syslinux-common)
# extlinux, syslinux-common: the boot loader and MBR code of --type=hvm disks.
# dpkg-dev: dpkg-architecture, which mmdebstrap's eatmydata hook runs on the host (dpkg without
# fsync during the build: a much faster cold create; without it xenkit still works, slower).
# The baseline the tests and benchmarks compare against (its renderer, MAC rule and timings).
# libvirt for the libvirt driver's tests (libxml2-utils: xmllint, which virt-xml-validate runs).
[ "$want_tests" = 1 ] && packages+=(xen-tools perl libtext-template-perl libxen-dev gcc libc6-dev hyperfine time openssl attr acl libcap2-bin python3 busybox-static cpio kmod initramfs-tools linux-image-amd64 lz4 lvm2 thin-provisioning-tools udev qemu-block-extra xen-hypervisor-4.17-amd64 xen-utils-4.17 qemu-system-xen virt-what groff-base
  libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients libxml2-utils dbus \
  cockpit-ws cockpit-bridge cockpit-system cockpit-machines libvirt-dbus chromium)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-host: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v node >/dev/null || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "setup-host: Node.js >= 20.19 is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
npm ci --no-audit --no-fund
npm run build

# --link: put the commands on PATH (/usr/local/bin). The xen-tools names are linked only where
# the Debian xen-tools package is not installed, so the two never shadow each other silently.
if [ "$want_links" = 1 ]; then
  for cmd in xenkit xm xen-create-image xen-delete-image xen-list-images xen-update-image xen-resize-guest; do
    case "$cmd" in
      xen-*) if [ -e "/usr/bin/$cmd" ]; then echo "setup-host: /usr/bin/$cmd (xen-tools) is installed; use: xenkit ${cmd#xen-}"; continue; fi ;;
    esac
    ln -sfn "$PWD/bin/$cmd.js" "/usr/local/bin/$cmd"
    # Its man page (made by the build from the same option tables as --help), where man looks.
    [ -e "/usr/bin/$cmd" ] || { mkdir -p /usr/local/share/man/man1 && ln -sfn "$PWD/dist/man/man1/$cmd.1" "/usr/local/share/man/man1/$cmd.1"; }
  done
  # Bash completion for all of them (read by bash-completion, and by shells that source the directory).
  mkdir -p /etc/bash_completion.d && ln -sfn "$PWD/dist/completion/xenkit.bash" /etc/bash_completion.d/xenkit
  # The boot-time service: /etc/xen/auto guests start at boot, all guests shut down at host shutdown.
  if command -v systemctl >/dev/null; then
    install -m 0644 systemd/xenkit-guests.service /etc/systemd/system/xenkit-guests.service
    [ -d /run/systemd/system ] && systemctl daemon-reload
    systemctl enable xenkit-guests.service >/dev/null 2>&1 || echo "setup-host: could not enable xenkit-guests.service; at boot run: xm start --auto"
  fi
fi

