/**
 * What hooks and roles run inside the guest, and which of it failed. xen-tools' roles run
 * `chroot ROOT apt-get install PKG | sed ...` and never look at apt's status, so a package that
 * could not be installed went by with the build reported as a success. A `chroot` of ours first on
 * the hooks' PATH runs the real one and notes every command that failed in the guest; the runner
 * then fails the build for a failed package installation and warns about the rest (a removal of
 * a package the release no longer has, a tool the guest lacks).
 */
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** One command a hook ran in the guest with chroot(8) that exited non-zero. */
export interface ChrootFailure {
  status: number;
  /** The words after chroot's ROOT: the command and its arguments. */
  argv: string[];
}

/** A chroot(8) stand-in: runs the real one with the same arguments, notes a failure, keeps the status. */
const WRAPPER = `#!/bin/sh
# xenkit: run the real chroot; note a command that failed inside the guest.
"$XENKIT_REAL_CHROOT" "$@"
status=$?
if [ "$status" -ne 0 ]; then
  { printf '%s' "$status"; for word in "$@"; do printf '\\t%s' "$word"; done; printf '\\n'; } >>"$XENKIT_CHROOT_LOG"
fi
exit "$status"
`;

/** The chroot(8) the hooks would have run: the first on their PATH. */
function realChroot(basePath: string): string {
  for (const dir of basePath.split(':')) {
    if (dir !== '' && existsSync(path.join(dir, 'chroot'))) return path.join(dir, 'chroot');
  }
  return '/usr/sbin/chroot';
}

/** A running watch: the environment hooks get, and what failed so far. */
export interface ChrootWatch {
  /** PATH with the stand-in first, and the variables it reads. */
  env: Record<string, string>;
  /** Failures noted since the last call (each is returned once). */
  take(): Promise<ChrootFailure[]>;
}

/** Parses the stand-in's log: `STATUS<TAB>ROOT<TAB>CMD<TAB>ARG...` a line. */
export function parseChrootLog(text: string): ChrootFailure[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [status = '', , ...argv] = line.split('\t');
      return { status: Number(status), argv };
    });
}

/** Whether a failed command was a package installation (apt-get/apt/aptitude install). */
export function isPackageInstall(failure: ChrootFailure): boolean {
  const [command = '', ...args] = failure.argv;
  return /(^|\/)(apt-get|apt|aptitude)$/.test(command) && args.includes('install');
}

/**
 * Runs `fn` with a chroot stand-in in a fresh directory under TMPDIR (the run's private
 * temporary directory), removed afterwards.
 */
export async function withChrootWatch<T>(
  basePath: string,
  fn: (watch: ChrootWatch) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'xenkit-chroot-'));
  const log = path.join(dir, 'failures');
  try {
    await writeFile(path.join(dir, 'chroot'), WRAPPER);
    await chmod(path.join(dir, 'chroot'), 0o755);
    await writeFile(log, '');
    let seen = 0;
    return await fn({
      env: { PATH: `${dir}:${basePath}`, XENKIT_REAL_CHROOT: realChroot(basePath), XENKIT_CHROOT_LOG: log },
      take: async () => {
        const text = await readFile(log, 'utf8');
        const fresh = text.slice(seen);
        seen = text.length;
        return parseChrootLog(fresh);
      },
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
