import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hasAptLists, withAptLists } from '../../src/customize/apt-lists.js';
import { makeContext, tempDir, writeFiles } from '../helpers/customize-fixtures.js';

const dirs: string[] = [];
const savedPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = savedPath;
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A guest tree with apt-get, a resolved stub link, and a fake chroot(8) that logs and "updates". */
function setup(updateFails = false) {
  const bin = tempDir('xenkit-fakebin-');
  const root = tempDir('xenkit-tree-');
  const host = tempDir('xenkit-host-');
  dirs.push(bin, root, host);
  writeFiles(root, {
    'usr/bin/apt-get': '',
    'var/lib/apt/lists/lock': '',
    'var/cache/apt/archives/x.deb': '',
  });
  fs.mkdirSync(path.join(root, 'etc'));
  fs.symlinkSync('../run/systemd/resolve/stub-resolv.conf', path.join(root, 'etc/resolv.conf'));
  writeFiles(host, { 'resolv.conf': 'nameserver 192.0.2.53\n' });
  writeFiles(
    bin,
    {
      chroot: `#!/bin/sh
root="$1"; shift
echo "$*" >> "$root/.calls"
case "$*" in
  *update*) cp "$root/etc/resolv.conf" "$root/.resolv-seen"; ${updateFails ? 'echo "E: Failed to fetch http://x" >&2; exit 100' : 'touch "$root/var/lib/apt/lists/deb.debian.org_dists_bookworm_InRelease"'} ;;
  *clean*) rm -f "$root"/var/cache/apt/archives/*.deb ;;
esac
`,
    },
    0o755,
  );
  process.env.PATH = `${bin}:${savedPath}`;
  const calls = (): string[] =>
    fs.existsSync(path.join(root, '.calls'))
      ? fs.readFileSync(path.join(root, '.calls'), 'utf8').trim().split('\n')
      : [];
  return { root, resolv: path.join(host, 'resolv.conf'), calls };
}

describe('withAptLists', () => {
  it('fetches the lists with the host resolver in place, then removes lists and packages and puts the stub back', async () => {
    const { root, resolv, calls } = setup();
    let during = false;
    await withAptLists(root, makeContext().ctx, resolv, async () => {
      during = hasAptLists(root);
    });
    expect(during).toBe(true);
    expect(fs.readFileSync(path.join(root, '.resolv-seen'), 'utf8')).toBe('nameserver 192.0.2.53\n');
    expect(calls()).toEqual(['apt-get -q update', 'apt-get clean']);
    expect(hasAptLists(root)).toBe(false);
    expect(fs.readdirSync(path.join(root, 'var/lib/apt/lists'))).toEqual(['lock']);
    expect(fs.readlinkSync(path.join(root, 'etc/resolv.conf'))).toBe(
      '../run/systemd/resolve/stub-resolv.conf',
    );
  });

  it('keeps the lists for the final roles when asked, and does not fetch them twice', async () => {
    const { root, resolv, calls } = setup();
    await withAptLists(root, makeContext().ctx, resolv, async () => undefined, true);
    expect(hasAptLists(root)).toBe(true);
    await withAptLists(root, makeContext().ctx, resolv, async () => undefined);
    expect(calls()).toEqual(['apt-get -q update', 'apt-get clean']);
    expect(hasAptLists(root)).toBe(false);
  });

  it('fails before any hook runs when the update fails', async () => {
    const { root, resolv } = setup(true);
    let ran = false;
    await expect(
      withAptLists(root, makeContext().ctx, resolv, async () => {
        ran = true;
      }),
    ).rejects.toThrow(/apt-get update in the guest failed/);
    expect(ran).toBe(false);
  });
});
