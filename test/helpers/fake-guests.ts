/** Guests made of plain files under a scratch root: a cfg like xen-create-image writes, sparse images. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makePaths, type Paths } from '../../src/paths.js';

/** A scratch root. */
export function makeRoot(): Paths {
  return makePaths(fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-images-')));
}

/** A guest NAME with disk.img and swap.img in ROOT/srv/domains/NAME; qcow2 overlays on `linkedTo`. */
export function makeFakeGuest(
  paths: Paths,
  name: string,
  options: { linkedTo?: string; ip?: string } = {},
): string {
  const dir = path.join(paths.root, 'srv/domains', name);
  fs.mkdirSync(dir, { recursive: true });
  const disks: string[] = [];
  for (const [file, vdev, size] of [
    ['disk.img', 'xvda2', 64 << 20],
    ['swap.img', 'xvda1', 16 << 20],
  ] as const) {
    const image = path.join(dir, file);
    if (options.linkedTo) {
      const base = path.join(paths.root, 'srv/domains', options.linkedTo, file);
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', base, image]);
      disks.push(`'format=qcow2, vdev=${vdev}, access=rw, target=${image}'`);
    } else {
      fs.writeFileSync(image, '');
      fs.truncateSync(image, size);
      disks.push(`'file:${image},${vdev},w'`);
    }
  }
  fs.mkdirSync(paths.xenDir, { recursive: true });
  const net = options.ip
    ? `vif = [ 'ip=${options.ip} ,mac=00:16:3E:00:00:01' ]`
    : "dhcp = 'dhcp'\nvif = [ 'mac=00:16:3E:00:00:02' ]";
  const cfg = path.join(paths.xenDir, `${name}.cfg`);
  fs.writeFileSync(cfg, `memory = '256'\ndisk = [\n  ${disks.join(',\n  ')},\n]\nname = '${name}'\n${net}\n`);
  fs.mkdirSync(paths.logDir, { recursive: true });
  fs.writeFileSync(path.join(paths.logDir, `${name}.log`), 'created\n');
  return cfg;
}

/**
 * The guests the listing tests share: a1 (its disk marked the base of linked clones), b2 (a
 * static address) and c3 (qcow2 overlays on a1's images).
 */
export function makeListedGuests(paths: Paths): void {
  makeFakeGuest(paths, 'a1');
  makeFakeGuest(paths, 'b2', { ip: '192.0.2.9' });
  makeFakeGuest(paths, 'c3', { linkedTo: 'a1' });
  fs.appendFileSync(
    path.join(paths.xenDir, 'a1.cfg'),
    `# xenkit-base-image: ${path.join(paths.root, 'srv/domains/a1/disk.img')} 0600\n`,
  );
}
