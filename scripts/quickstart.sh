#!/usr/bin/env bash
# The seed's lab on a fresh Debian/Ubuntu machine with the built-in defaults: installs what is
# missing, builds the guest "test2" (the host's Debian release, DHCP), starts it, and shows it
# running in `xm list`. Usage: sudo scripts/quickstart.sh [extra xen-create-image options]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-host.sh --link
dir=${XENKIT_IMAGE_DIR:-/srv/xen}
mkdir -p "$dir"
if [ -e /etc/xen/test2.cfg ]; then
  echo "quickstart: /etc/xen/test2.cfg exists already; starting the guest that is there"
else
  ./bin/xen-create-image.js --hostname=test2 --dhcp --dir="$dir" "$@"
fi
./bin/xm.js list test2 >/dev/null 2>&1 || ./bin/xm.js create test2
echo
./bin/xm.js list
echo
echo "Attach to its console with: xm console test2   (Ctrl-] detaches; the root password is in the summary above)"
echo "Domain config: /etc/xen/test2.cfg    creation log: /var/log/xen-tools/test2.log"
