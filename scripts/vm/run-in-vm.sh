#!/usr/bin/env bash
# Runs a command inside a throw-away QEMU TCG VM that boots the host's Debian kernel (or Xen 4.17
# with it as dom0, --xen) on the host's own userspace (read-only 9p + tmpfs overlay), e.g.
#   scripts/vm/run-in-vm.sh --scratch 1024 -- bash -c 'pvcreate /dev/vda && vgcreate vg0 /dev/vda && vgs'
#   scripts/vm/run-in-vm.sh --xen -- xl info
# Options: --xen --timeout S --memory MIB --cpus N --scratch MIB --disk PATH[:raw|qcow2] --keep --console
# Needs root, qemu-system-x86, linux-image-amd64, busybox-static (and xen-hypervisor-4.17-amd64,
# xen-utils-4.17 for --xen). The test bed is TypeScript (test/vm/vm.ts): compiled here first.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=node_modules/.cache/xenkit-run-in-vm
npx tsc --outDir "$out" --rootDir . --module nodenext --moduleResolution nodenext --target es2022 \
  --strict --skipLibCheck --types node --ignoreConfig test/vm/run-in-vm-cli.ts
exec node "$out/test/vm/run-in-vm-cli.js" "$@"
