/** A minimal writer of the "newc" cpio format, the one the Linux kernel unpacks as an initramfs. */

/** One entry of the archive: a directory, a regular file or a symlink. */
export type CpioEntry =
  | { kind: 'dir'; name: string; mode?: number }
  | { kind: 'file'; name: string; data: Buffer; mode?: number }
  | { kind: 'symlink'; name: string; target: string };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

/** Serializes `entries` (parents before children) into a newc archive with its trailer. */
export function writeCpioNewc(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const push = (name: string, mode: number, data: Buffer, nlink: number): void => {
    const nameBytes = Buffer.from(`${name}\0`);
    const fields = [ino++, mode, 0, 0, nlink, 0, data.length, 0, 0, 0, 0, nameBytes.length, 0];
    const header = `070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`;
    parts.push(Buffer.from(header, 'ascii'), nameBytes, padding(110 + nameBytes.length));
    parts.push(data, padding(data.length));
  };
  for (const entry of entries) {
    if (entry.kind === 'dir') push(entry.name, S_IFDIR | (entry.mode ?? 0o755), Buffer.alloc(0), 2);
    else if (entry.kind === 'file') push(entry.name, S_IFREG | (entry.mode ?? 0o644), entry.data, 1);
    else push(entry.name, S_IFLNK | 0o777, Buffer.from(entry.target), 1);
  }
  push('TRAILER!!!', 0, Buffer.alloc(0), 1);
  return Buffer.concat(parts);
}

function padding(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

/** A busybox system's entries: the binary, its applets in bin/ and sbin/, /init, inittab and rc. */
export function busyboxEntries(options: {
  busybox: Buffer;
  applets: readonly string[];
  sbin: readonly string[];
  inittab: string;
  rc: string;
}): CpioEntry[] {
  return [
    { kind: 'file', name: 'bin/busybox', data: options.busybox, mode: 0o755 },
    ...options.applets.map((a): CpioEntry => ({ kind: 'symlink', name: `bin/${a}`, target: 'busybox' })),
    ...options.sbin.map((a): CpioEntry => ({ kind: 'symlink', name: `sbin/${a}`, target: '../bin/busybox' })),
    { kind: 'symlink', name: 'init', target: 'bin/busybox' },
    { kind: 'file', name: 'etc/inittab', data: Buffer.from(options.inittab) },
    { kind: 'file', name: 'etc/rc', data: Buffer.from(options.rc), mode: 0o755 },
  ];
}
