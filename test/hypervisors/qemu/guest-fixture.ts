/**
 * A bootable test guest for the real QEMU tests: a Debian kernel (the host's /boot, else the
 * linux-image package fetched once with apt-get download into a cache) and a tiny busybox
 * initramfs whose init prints a marker on ttyS0, loads the virtio balloon and ACPI button
 * modules, powers off on the ACPI power button (busybox acpid), onlines hot-added CPUs,
 * prints `STATUS cpus=N memtotal=KB` whenever that changes, and obeys `reboot`/`status` typed
 * on the console, and `run CMD` (prints CMD's output, then `RUN-DONE STATUS`).
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCommand } from '../../../src/tools/exec.js';

export const GUEST_MARKER = 'XENKIT-GUEST-UP';

const KERNEL_CACHE = '/var/cache/xenkit-test/kernel';
export const VIRTIO_MODULES = [
  'drivers/virtio/virtio_ring.ko',
  'drivers/virtio/virtio.ko',
  'drivers/virtio/virtio_pci_modern_dev.ko',
  'drivers/virtio/virtio_pci_legacy_dev.ko',
  'drivers/virtio/virtio_pci.ko',
  'drivers/virtio/virtio_balloon.ko',
  'drivers/acpi/button.ko',
  'drivers/input/evdev.ko',
];

/** The start of a busybox init: applets, /proc, /sys, /dev, then `modules` loaded in order. */
export function initPreamble(modules: readonly string[]): string {
  return `#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in ${modules.map((m) => path.basename(m, '.ko')).join(' ')}; do insmod /lib/modules/$m.ko; done
`;
}

const initScript = (
  modules: readonly string[],
): string => `${initPreamble(modules)}mkdir -p /etc/acpi/PWRF /var/run /var/log
printf '#!/bin/sh\\necho POWERING-OFF\\npoweroff -f\\n' > /etc/acpi/PWRF/00000080
chmod +x /etc/acpi/PWRF/00000080
acpid
# acpid opens the input devices in the background; a power button pressed earlier is lost.
sleep 1
echo ${GUEST_MARKER}
status() {
  echo "STATUS cpus=$(grep -c ^processor /proc/cpuinfo) memtotal=$(sed -n 's/^MemTotal: *\\([0-9]*\\) kB/\\1/p' /proc/meminfo)"
}
# Hot-added CPUs onlined, and the status printed whenever it changes, in the background; the
# commands read in the foreground with no timeout: busybox's read -t reads a byte at a time and
# drops what it has read when the timeout strikes mid-line, and a line typed near the end of a
# second was lost that way (once, after a restore, under load).
(
  last=""
  while true; do
    for c in /sys/devices/system/cpu/cpu[0-9]*; do
      if [ -f $c/online ] && [ "$(cat $c/online)" = 0 ]; then echo 1 > $c/online; fi
    done
    st="$(status)"
    if [ "$st" != "$last" ]; then echo "$st"; last="$st"; fi
    sleep 1
  done
) &
while true; do
  read cmd || { sleep 1; continue; }
  case "$cmd" in
    reboot) echo REBOOTING; reboot -f ;;
    status) status ;;
    run\\ *) sh -c "\${cmd#run }" 2>&1; echo "RUN-DONE $?" ;;
  esac
done
`;

/** The kernel to boot and the directory of its modules. */
export async function findTestKernel(): Promise<{ kernel: string; modulesDir: string; version: string }> {
  const fromBoot = readdirSync('/boot')
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((v) => existsSync(`/lib/modules/${v}/kernel`));
  if (fromBoot[0]) {
    return {
      kernel: `/boot/vmlinuz-${fromBoot[0]}`,
      modulesDir: `/lib/modules/${fromBoot[0]}`,
      version: fromBoot[0],
    };
  }
  const root = path.join(KERNEL_CACHE, 'root');
  if (!existsSync(path.join(root, 'boot'))) {
    mkdirSync(KERNEL_CACHE, { recursive: true });
    const depends = await runCommand(['apt-cache', 'depends', 'linux-image-amd64']);
    const pkg = /Depends: (linux-image-[\w.-]+)/.exec(depends.stdout)?.[1];
    if (!pkg) throw new Error('cannot find the package linux-image-amd64 depends on');
    await runCommand(['apt-get', 'download', pkg], { cwd: KERNEL_CACHE, timeoutMs: 300_000 });
    const deb = readdirSync(KERNEL_CACHE).find((f) => f.startsWith(pkg) && f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${pkg} left no .deb`);
    await runCommand(['dpkg-deb', '-x', path.join(KERNEL_CACHE, deb), root]);
  }
  const vmlinuz = readdirSync(path.join(root, 'boot')).find((f) => f.startsWith('vmlinuz-'));
  if (!vmlinuz) throw new Error(`no vmlinuz in ${root}/boot`);
  const version = vmlinuz.slice('vmlinuz-'.length);
  return {
    kernel: path.join(root, 'boot', vmlinuz),
    modulesDir: path.join(root, 'lib/modules', version),
    version,
  };
}

/**
 * Builds the busybox initramfs (uncompressed newc cpio) at `out`: the default init with the
 * standard modules and `extra` ones (paths under the kernel's module tree, loaded after them), or
 * a custom `init` with its own `modules` (loaded in order).
 */
export async function buildTestInitramfs(
  modulesDir: string,
  workDir: string,
  out: string,
  extra: readonly string[] | { init: string; modules: readonly string[] } = [],
): Promise<void> {
  const custom = Array.isArray(extra) ? undefined : (extra as { init: string; modules: readonly string[] });
  const modules = custom ? custom.modules : [...VIRTIO_MODULES, ...(extra as readonly string[])];
  const tree = path.join(workDir, 'initramfs');
  for (const dir of ['bin', 'proc', 'sys', 'dev', 'etc', 'lib/modules', 'tmp']) {
    mkdirSync(path.join(tree, dir), { recursive: true });
  }
  copyFileSync('/bin/busybox', path.join(tree, 'bin/busybox'));
  chmodSync(path.join(tree, 'bin/busybox'), 0o755);
  writeFileSync(path.join(tree, 'bin/sh'), '');
  await runCommand(['ln', '-sf', 'busybox', path.join(tree, 'bin/sh')]);
  for (const module of modules) {
    copyFileSync(
      path.join(modulesDir, 'kernel', module),
      path.join(tree, 'lib/modules', path.basename(module)),
    );
  }
  writeFileSync(path.join(tree, 'init'), custom?.init ?? initScript(modules), { mode: 0o755 });
  const files = await runCommand(['find', '.', '-mindepth', '1'], { cwd: tree });
  await runCommand(['cpio', '--quiet', '-o', '-H', 'newc', '-F', out], { cwd: tree, input: files.stdout });
}

/** An ext4 image holding /boot/vmlinuz-VERSION and /boot/initrd.img-VERSION (an older kernel too). */
export async function buildBootImage(
  kernel: string,
  initrd: string,
  version: string,
  workDir: string,
  out: string,
): Promise<void> {
  const tree = path.join(workDir, 'guest-root');
  mkdirSync(path.join(tree, 'boot'), { recursive: true });
  copyFileSync(kernel, path.join(tree, 'boot', `vmlinuz-${version}`));
  copyFileSync(initrd, path.join(tree, 'boot', `initrd.img-${version}`));
  // An older kernel that must not be chosen (not bootable: it is a text file).
  writeFileSync(path.join(tree, 'boot', 'vmlinuz-5.10.0-9-amd64'), 'old kernel\n');
  await runCommand(['mkfs.ext4', '-q', '-F', '-d', tree, out, '64M']);
}
