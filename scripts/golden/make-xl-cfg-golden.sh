#!/bin/sh
# Regenerates test/golden/xl-cfg/NAME.cfg from test/golden/xl-cfg/NAME.json with the REAL
# xen-tools 4.9.2 renderer (/usr/bin/xt-create-xen-config and /etc/xen-tools/xm.tmpl, Debian
# package xen-tools), through scripts/golden/xen-tools-cfg.pl. Run from anywhere; needs perl.
# test/formats/xl-cfg-golden.root.test.ts re-runs the same renderer and fails if these files
# are stale.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
golden="$here/../../test/golden/xl-cfg"
[ -x /usr/bin/xt-create-xen-config ] || { echo "xen-tools is not installed (apt-get install xen-tools)" >&2; exit 1; }
for options in "$golden"/*.json; do
  name=$(basename "$options" .json)
  perl "$here/xen-tools-cfg.pl" "$options" > "$golden/$name.cfg.new"
  mv "$golden/$name.cfg.new" "$golden/$name.cfg"
  echo "wrote test/golden/xl-cfg/$name.cfg"
done
