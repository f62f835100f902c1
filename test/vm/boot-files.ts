/**
 * The files a test VM boots from, all taken from the host's Debian packages: the Debian kernel
 * (linux-image-amd64), an uncompressed Xen 4.17 (QEMU's -kernel refuses xen.gz) and a tiny
 * busybox initramfs that only mounts the host's / over 9p and hands over to the job's script.
 * Generated files are cached, keyed by what they were made from.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { writeCpioNewc, type CpioEntry } from './cpio.js';
import { STAGE1_INIT } from './stage-scripts.js';

/** The Debian kernel the VMs boot, with its version (for /lib/modules). */
export interface GuestKernel {
  path: string;
  version: string;
}

/** Modules the initramfs loads before it can mount the host's root (the rest come from the root). */
const INITRAMFS_MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'overlay'];

/** Where generated boot files are cached (XENKIT_VM_CACHE, else /var/cache/xenkit-vm). */
export function vmCacheDir(): string {
  const dir = process.env.XENKIT_VM_CACHE ?? '/var/cache/xenkit-vm';
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** The newest Debian kernel in /boot (not the running kernel, which may not be a Debian one). */
export function findGuestKernel(bootDir = '/boot'): GuestKernel {
  const versions = fs
    .readdirSync(bootDir)
    .filter((f) => /^vmlinuz-.*-amd64$/.test(f))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((v) => fs.existsSync(path.join('/lib/modules', v, 'modules.dep')))
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const version = versions.at(-1);
  if (!version) {
    throw new Error(`no Debian kernel with modules in ${bootDir}: apt-get install linux-image-amd64`);
  }
  return { path: path.join(bootDir, `vmlinuz-${version}`), version };
}

/** Xen 4.17 uncompressed into the cache (QEMU's multiboot loader needs the plain ELF). */
export function findXenHypervisor(bootDir = '/boot'): string {
  const gz = fs
    .readdirSync(bootDir)
    .filter((f) => /^xen-4\.\d+-amd64\.gz$/.test(f))
    .sort()
    .at(-1);
  if (!gz) throw new Error(`no Xen hypervisor in ${bootDir}: apt-get install xen-hypervisor-4.17-amd64`);
  const source = path.join(bootDir, gz);
  const stat = fs.statSync(source);
  const target = path.join(vmCacheDir(), `${gz.replace(/\.gz$/, '')}-${stat.size}-${stat.mtimeMs}`);
  if (!fs.existsSync(target)) writeAtomically(target, gunzipSync(fs.readFileSync(source)));
  return target;
}

/** Builds (or reuses) the busybox initramfs for `kernel`. */
export function buildInitramfs(kernel: GuestKernel, busybox = '/bin/busybox'): string {
  const modules = resolveModules(kernel.version, INITRAMFS_MODULES);
  const busyboxData = fs.readFileSync(busybox);
  const key = createHash('sha256')
    .update(kernel.version)
    .update(STAGE1_INIT)
    .update(busyboxData)
    .update(modules.join('\n'))
    .digest('hex')
    .slice(0, 16);
  const target = path.join(vmCacheDir(), `initramfs-${kernel.version}-${key}.cpio`);
  if (fs.existsSync(target)) return target;
  const modDir = path.join('/lib/modules', kernel.version);
  const entries: CpioEntry[] = [
    ...['bin', 'dev', 'proc', 'sys', 'lower', 'upper', 'newroot', 'modules'].map((name): CpioEntry => ({
      kind: 'dir',
      name,
    })),
    { kind: 'file', name: 'bin/busybox', data: busyboxData, mode: 0o755 },
    { kind: 'file', name: 'init', data: Buffer.from(STAGE1_INIT), mode: 0o755 },
    {
      kind: 'file',
      name: 'modules/order',
      data: Buffer.from(modules.map((m) => path.basename(m)).join('\n')),
    },
    ...modules.map((m): CpioEntry => ({
      kind: 'file',
      name: `modules/${path.basename(m)}`,
      data: fs.readFileSync(path.join(modDir, m)),
    })),
  ];
  writeAtomically(target, writeCpioNewc(entries));
  return target;
}

/** The module files (relative to /lib/modules/VERSION) for `names`, dependencies first. */
export function resolveModules(version: string, names: readonly string[]): string[] {
  const dep = fs.readFileSync(path.join('/lib/modules', version, 'modules.dep'), 'utf8');
  const deps = new Map<string, string[]>();
  const byName = new Map<string, string>();
  for (const line of dep.split('\n')) {
    const [file, rest] = line.split(':');
    if (!file || rest === undefined) continue;
    deps.set(file, rest.trim().split(/\s+/).filter(Boolean));
    byName.set(
      path
        .basename(file)
        .replace(/\.ko(\.\w+)?$/, '')
        .replace(/-/g, '_'),
      file,
    );
  }
  const order: string[] = [];
  const visit = (file: string): void => {
    if (order.includes(file)) return;
    for (const d of deps.get(file) ?? []) visit(d);
    order.push(file);
  };
  for (const name of names) {
    const file = byName.get(name.replace(/-/g, '_'));
    // Built into this kernel (no module file): nothing to load.
    if (file) visit(file);
  }
  const compressed = order.find((f) => !f.endsWith('.ko'));
  if (compressed) throw new Error(`module ${compressed} is compressed: busybox insmod needs plain .ko files`);
  return order;
}

function writeAtomically(target: string, data: Buffer): void {
  const temp = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(temp, data);
  fs.renameSync(temp, target);
}
