/**
 * `--install-method=copy`: the source directory is copied exactly with `cp -a` (owners, modes,
 * device nodes, hard links, xattrs and ACLs; one cp run, so hard links stay links). A live system
 * (the source is `/`, or has /proc mounted) is copied without the contents of its pseudo
 * filesystems (/proc, /sys, /dev, /run, /tmp and any other virtual mount), and never into itself
 * when the target lies inside the source. That pruned copy runs one `cp -a` per directory it
 * descends into, so only a hard link between two such runs would be split (none in a Debian tree).
 */
import { chmod, chown, lstat, mkdir, readdir, realpath, utimes } from 'node:fs/promises';
import path from 'node:path';
import { usageError } from '../errors.js';
import type { PlanAction, StepContext } from '../plan/plan.js';
import { runCommand } from '../tools/exec.js';
import { listMountsUnder } from './target-guard.js';
import type { InstallRequest } from './install-request.js';

/** Top-level directories whose contents never come along from a live system. */
const LIVE_EMPTY_DIRS = ['proc', 'sys', 'dev', 'run', 'tmp'];

/** Filesystem types that hold no data of the system (contents are skipped when mounted below the source). */
const VIRTUAL_FS = new Set([
  'proc', 'sysfs', 'devtmpfs', 'devpts', 'tmpfs', 'cgroup', 'cgroup2', 'securityfs', 'debugfs', 'tracefs',
  'pstore', 'bpf', 'configfs', 'fusectl', 'mqueue', 'hugetlbfs', 'binfmt_misc', 'autofs', 'efivarfs', 'rpc_pipefs',
]); // prettier-ignore

/** The argv of a plain (non-live) copy: the whole tree, its root's own attributes included. */
export function buildCopyArgv(source: string, target: string): string[] {
  return ['cp', '--archive', '--no-target-directory', '--', source, target];
}

/** The actions of a copy install, for `--dry-run`. */
export function describeCopyInstall(request: InstallRequest): PlanAction[] {
  const source = request.install.source ?? '';
  const actions: PlanAction[] = [{ kind: 'run', argv: buildCopyArgv(source, request.target) }];
  if (path.resolve(source) === '/') {
    actions.push({ kind: 'note', text: `live system: /${LIVE_EMPTY_DIRS.join(', /')} are created empty` });
  }
  return actions;
}

/** Paths (relative to the source) whose contents are skipped, and paths skipped entirely. */
interface CopyPlan {
  emptyDirs: Set<string>;
  skipped: Set<string>;
}

async function planLiveCopy(source: string, target: string): Promise<CopyPlan | undefined> {
  const mounts = await listMountsUnder(source);
  const isLive =
    source === '/' || mounts.some((m) => m.mountPoint === path.join(source, 'proc') && m.fsType === 'proc');
  const inside = target.startsWith(source === '/' ? '/' : `${source}/`);
  if (!isLive && !inside) return undefined;
  const rel = (p: string): string => path.relative(source, p);
  const emptyDirs = new Set<string>(isLive ? LIVE_EMPTY_DIRS : []);
  for (const m of mounts) if (isLive && VIRTUAL_FS.has(m.fsType)) emptyDirs.add(rel(m.mountPoint));
  return { emptyDirs, skipped: new Set(inside ? [rel(target)] : []) };
}

/** Creates `dest` as an empty directory with the owner, mode and times of `src`. */
async function copyDirShell(src: string, dest: string): Promise<void> {
  const st = await lstat(src);
  await mkdir(dest, { recursive: true });
  await chown(dest, st.uid, st.gid);
  await chmod(dest, st.mode & 0o7777);
  await utimes(dest, st.atime, st.mtime);
}

/**
 * Copies `rel` (a directory of the source) piece by piece: entries with nothing excluded below
 * them go to one `cp -a` run per directory; the others are recreated and descended into.
 */
async function copyPruned(
  source: string,
  target: string,
  rel: string,
  plan: CopyPlan,
  ctx: StepContext,
): Promise<void> {
  await mkdir(path.join(target, rel), { recursive: true });
  const excluded = [...plan.emptyDirs, ...plan.skipped];
  const whole: string[] = [];
  for (const name of (await readdir(path.join(source, rel))).sort()) {
    const child = path.join(rel, name);
    if (plan.skipped.has(child)) continue;
    if (plan.emptyDirs.has(child)) {
      const st = await lstat(path.join(source, child));
      if (st.isDirectory()) await copyDirShell(path.join(source, child), path.join(target, child));
      continue;
    }
    if (excluded.some((e) => e.startsWith(`${child}/`))) {
      await copyPruned(source, target, child, plan, ctx);
      continue;
    }
    whole.push(path.join(source, child));
  }
  if (whole.length > 0) {
    await runCommand(['cp', '--archive', '--', ...whole, path.join(target, rel) + '/'], {
      signal: ctx.signal,
      sink: ctx.sink,
    });
  }
  await copyDirShell(path.join(source, rel), path.join(target, rel));
}

/** Copies the source tree of `request.install.source` into the target. */
export async function installByCopy(request: InstallRequest, ctx: StepContext): Promise<void> {
  const given = request.install.source;
  const st = given ? await lstat(given).catch(() => undefined) : undefined;
  if (!given || !st?.isDirectory()) {
    throw usageError(
      'E_INSTALL_SOURCE',
      `install source "${given ?? ''}" is not a directory`,
      'give --install-source=DIR with a complete root tree to copy',
    );
  }
  const source = await realpath(given);
  const target = await realpath(request.target);
  if (source === target) {
    throw usageError(
      'E_INSTALL_SOURCE',
      `install source "${given}" is the target itself`,
      'copy from another directory',
    );
  }
  const plan = await planLiveCopy(source, target);
  if (!plan) {
    await runCommand(buildCopyArgv(source, target), { signal: ctx.signal, sink: ctx.sink });
    return;
  }
  ctx.reporter.progress(request.stepId ?? 'install.copy', `copying ${source} without virtual filesystems`);
  await copyPruned(source, target, '', plan, ctx);
}
