#!/usr/bin/env bash
# The seed's lab on a fresh Debian/Ubuntu machine with the built-in defaults: installs what is
# missing, builds the guest "test2" (bookworm, DHCP) and shows what it made.
# Usage: sudo scripts/quickstart.sh [extra xen-create-image options]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-host.sh
dir=${XENKIT_IMAGE_DIR:-/srv/xen}
mkdir -p "$dir"
./bin/xen-create-image.js --hostname=test2 --dhcp --dir="$dir" "$@"
echo
echo "Domain config: /etc/xen/test2.cfg    log: /var/log/xen-tools/test2.log"
