/**
 * The package lists hooks and roles need. The installer leaves none in the tree (they are stale by
 * boot time, and the root-tree cache holds none), but xen-tools' roles `chroot ROOT apt-get
 * install PKG` without an update of their own, as its 20-setup-apt hook had updated them before.
 * So before hooks and roles run, the guest's lists are fetched from its own sources (written by
 * the apt step), with a working resolv.conf in place; afterwards the lists and the downloaded
 * packages are removed again, as the installer removes them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runtimeError } from '../errors.js';
import type { StepContext } from '../plan/plan.js';
import { runCommand } from '../tools/exec.js';

const LISTS = 'var/lib/apt/lists';
const APT_KEEP = new Set(['lock', 'partial', 'auxfiles']);

/** Whether the tree has package lists (any file in /var/lib/apt/lists besides apt's own). */
export function hasAptLists(root: string): boolean {
  const dir = path.join(root, LISTS);
  try {
    return fs
      .readdirSync(dir)
      .some((name) => !APT_KEEP.has(name) && fs.statSync(path.join(dir, name)).isFile());
  } catch {
    return false;
  }
}

/** Whether the tree can run apt-get at all (a tar or copy install may be something else). */
export function hasAptGet(root: string): boolean {
  return fs.existsSync(path.join(root, 'usr/bin/apt-get'));
}

/**
 * Puts the host's resolv.conf in the tree while `fn` runs when the guest's own cannot resolve in
 * a chroot (a link to systemd-resolved's stub, or none), and puts the guest's back afterwards
 * unless a hook wrote one of its own meanwhile.
 */
async function withHostResolver<T>(root: string, hostResolvConf: string, fn: () => Promise<T>): Promise<T> {
  const file = path.join(root, 'etc/resolv.conf');
  const before = fs.lstatSync(file, { throwIfNoEntry: false });
  if (
    (before && !before.isSymbolicLink()) ||
    !fs.existsSync(hostResolvConf) ||
    !fs.existsSync(path.dirname(file))
  )
    return fn();
  const link = before ? fs.readlinkSync(file) : undefined;
  const text = fs.readFileSync(hostResolvConf, 'utf8');
  fs.rmSync(file, { force: true });
  fs.writeFileSync(file, text, { mode: 0o644 });
  try {
    return await fn();
  } finally {
    const now = fs.lstatSync(file, { throwIfNoEntry: false });
    if (now?.isFile() && fs.readFileSync(file, 'utf8') === text) {
      fs.rmSync(file, { force: true });
      if (link !== undefined) fs.symlinkSync(link, file);
    }
  }
}

/**
 * Runs `fn` (the hooks and roles) with package lists in the tree: fetched first when there are
 * none, removed afterwards together with the packages apt downloaded, unless `keepLists` (final
 * roles follow and use them; they remove them).
 */
export async function withAptLists<T>(
  root: string,
  ctx: StepContext,
  hostResolvConf: string,
  fn: () => Promise<T>,
  keepLists = false,
): Promise<T> {
  if (!hasAptGet(root)) return fn();
  return withHostResolver(root, hostResolvConf, async () => {
    if (!hasAptLists(root)) {
      ctx.reporter.progress('customize.hooks', 'apt-get update');
      ctx.sink({ type: 'info', message: 'customize: fetch the package lists for hooks and roles' });
      const result = await runCommand(['chroot', root, 'apt-get', '-q', 'update'], {
        sink: ctx.sink,
        signal: ctx.signal,
        allowFailure: true,
        env: { DEBIAN_FRONTEND: 'noninteractive' },
        cwd: '/',
      });
      const failed =
        result.exitCode !== 0 ||
        /^(E|W): (Failed to fetch|Some index files failed)/m.test(result.stdout + result.stderr);
      if (failed) {
        const tail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('\n');
        throw runtimeError(
          'E_APT_UPDATE',
          `apt-get update in the guest failed (status ${result.exitCode}): hooks and roles could not install packages`,
          `check the guest's mirror and the host's network; last lines:\n${tail}`,
        );
      }
    }
    let ok = false;
    try {
      const result = await fn();
      ok = true;
      return result;
    } finally {
      // After a failure the tree is discarded; the lists go with it either way.
      if (!(ok && keepLists)) await cleanApt(root, ctx);
    }
  });
}

/** Removes the package lists and downloaded packages, as the installer does. */
async function cleanApt(root: string, ctx: StepContext): Promise<void> {
  await runCommand(['chroot', root, 'apt-get', 'clean'], { sink: ctx.sink, allowFailure: true, cwd: '/' });
  const dir = path.join(root, LISTS);
  const st = fs.lstatSync(dir, { throwIfNoEntry: false });
  if (!st?.isDirectory()) return;
  for (const name of fs.readdirSync(dir)) {
    if (APT_KEEP.has(name)) continue;
    const file = path.join(dir, name);
    if (fs.lstatSync(file).isFile()) fs.rmSync(file, { force: true });
  }
}
