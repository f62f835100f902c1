import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPackageInstall, parseChrootLog } from '../../src/customize/chroot-watch.js';
import { runRoles } from '../../src/customize/hooks.js';
import { makeContext, makeSpec, tempDir, writeFiles } from '../helpers/customize-fixtures.js';

const dirs: string[] = [];
const savedPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = savedPath;
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/**
 * A fake chroot(8) first on PATH: runs `apt-get` as the stock roles call it and answers like
 * apt does for a package the lists do not have (or that exists), without a real chroot.
 */
function fakeChroot(): void {
  const bin = tempDir('xenkit-fakebin-');
  dirs.push(bin);
  writeFiles(
    bin,
    {
      chroot: `#!/bin/sh
root="$1"; shift
case "$*" in
  *install*nosuchpkg*) echo "E: Unable to locate package nosuchpkg" >&2; exit 100 ;;
  *remove*gonepkg*) echo "E: Unable to locate package gonepkg" >&2; exit 100 ;;
  *install*) echo "Setting up $(eval echo \\$$#) ..."; exit 0 ;;
  aptitude*) echo "chroot: failed to run command 'aptitude': No such file or directory" >&2; exit 127 ;;
esac
exit 0
`,
    },
    0o755,
  );
  process.env.PATH = `${bin}:${savedPath}`;
}

/** A role like Debian's sudoers role: pipes apt through sed, so its own status is sed's. */
function role(dir: string, name: string, body: string): void {
  writeFiles(dir, { [name]: `#!/bin/sh\nprefix=$1\n${body}\n` }, 0o755);
}

describe('the chroot watch', () => {
  let roleDir: string;
  let root: string;
  beforeEach(() => {
    fakeChroot();
    roleDir = tempDir('xenkit-roles-');
    root = tempDir('xenkit-root-');
    dirs.push(roleDir, root);
  });

  const run = (roles: string[]) => {
    const spec = makeSpec();
    spec.hooks.roleDir = roleDir;
    return runRoles(roles, root, spec, {}, makeContext().ctx);
  };

  it('fails a role whose package installation failed in the guest, though the role exited 0', async () => {
    role(
      roleDir,
      'sudoers',
      'chroot ${prefix} /usr/bin/apt-get --yes install nosuchpkg 2>&1 | sed -e s/x/x/',
    );
    await expect(run(['sudoers'])).rejects.toThrow(
      /role "sudoers": `\/usr\/bin\/apt-get --yes install nosuchpkg` failed in the guest \(status 100\): apt could not find nosuchpkg/,
    );
  });

  it('passes a role whose installation worked, with no warning', async () => {
    role(roleDir, 'good', 'chroot ${prefix} /usr/bin/apt-get --yes install sudo | sed -e s/x/x/');
    expect(await run(['good'])).toEqual([]);
  });

  it('warns about removals of unknown packages and missing tools, as xen-tools let them pass', async () => {
    role(
      roleDir,
      'minimal',
      'chroot ${prefix} /usr/bin/apt-get remove --yes --purge gonepkg\nchroot ${prefix} aptitude -y purge x\ntrue',
    );
    const warnings = await run(['minimal']);
    expect(warnings).toEqual([
      'role "minimal": `/usr/bin/apt-get remove --yes --purge gonepkg` failed in the guest (status 100)',
      'role "minimal": `aptitude -y purge x` failed in the guest (status 127)',
      'role "minimal": apt could not find gonepkg',
    ]);
  });

  it('still fails a role on its own non-zero status', async () => {
    role(roleDir, 'broken', 'exit 4');
    await expect(run(['broken'])).rejects.toThrow(/exited with status 4/);
  });
});

describe('parseChrootLog and isPackageInstall', () => {
  it('reads status, and the command after the root, a line each', () => {
    const failures = parseChrootLog('100\t/t\tapt-get\t--yes\tinstall\tsudo\n127\t/t\taptitude\tpurge\n');
    expect(failures).toEqual([
      { status: 100, argv: ['apt-get', '--yes', 'install', 'sudo'] },
      { status: 127, argv: ['aptitude', 'purge'] },
    ]);
    expect(failures.map(isPackageInstall)).toEqual([true, false]);
    expect(isPackageInstall({ status: 1, argv: ['/usr/bin/apt-get', 'remove', 'install-info'] })).toBe(false);
  });
});
