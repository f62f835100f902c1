/**
 * User hooks and roles, xen-tools compatible: each hook directory's executables run in name order
 * (run-parts style: editor backups and dpkg leftovers skipped) with argv [hook, ROOT] and the
 * settings in the environment. A hook named like a built-in step (`network` or `40-network`)
 * replaces that step, as /etc/xen-tools/hooks.d/NAME replaces the distribution's hook NAME.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runtimeError, usageError } from '../errors.js';
import type { GuestSpec } from '../model/guest-spec.js';
import type { StepContext } from '../plan/plan.js';
import { runCommand } from '../tools/exec.js';
import { SECRET_ENV_NAMES } from './hook-env.js';
import { TreeEditor } from './tree-editor.js';

export interface HookFile {
  name: string;
  path: string;
}

/** Names run-parts and xen-tools skip: backups, dpkg leftovers, hidden files. */
export function isIgnoredHookName(name: string): boolean {
  return (
    name.startsWith('.') ||
    name.endsWith('~') ||
    /\.dpkg-(new|old|dist|tmp|bak)$/.test(name) ||
    /\.(bak|orig|rej|swp|ucf-dist|ucf-old|ucf-new)$/.test(name) ||
    /^#.*#$/.test(name)
  );
}

function isExecutableFile(file: string): boolean {
  try {
    const stat = fs.statSync(file);
    return stat.isFile() && (stat.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** The hooks of several directories in name order; a later directory's file replaces an earlier one's. */
export function listHooks(dirs: readonly string[]): HookFile[] {
  const byName = new Map<string, string>();
  for (const dir of dirs) {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      throw usageError(
        'E_HOOK_DIR',
        `hook directory "${dir}" does not exist`,
        'create it or drop it from the hook dirs',
      );
    }
    for (const name of fs.readdirSync(dir)) {
      const file = path.join(dir, name);
      if (!isIgnoredHookName(name) && isExecutableFile(file)) byName.set(name, file);
    }
  }
  return [...byName.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, file]) => ({ name, path: file }));
}

/** The built-in step ids that hooks replace: a hook named `ID` or `NN-ID`. */
export function replacedStepIds(hooks: readonly HookFile[], stepIds: readonly string[]): Set<string> {
  const ids = new Set<string>();
  for (const hook of hooks) {
    const bare = hook.name.replace(/^\d+-/, '');
    if (stepIds.includes(hook.name)) ids.add(hook.name);
    else if (stepIds.includes(bare)) ids.add(bare);
  }
  return ids;
}

/** Removes secret variables, whatever the caller put in. */
function safeEnv(env: Record<string, string>): Record<string, string> {
  const out = { ...env };
  for (const name of SECRET_ENV_NAMES) delete out[name];
  return out;
}

async function runOne(
  kind: 'hook' | 'role',
  argv: string[],
  spec: GuestSpec,
  env: Record<string, string>,
  ctx: StepContext,
): Promise<void> {
  const result = await runCommand(argv, {
    env: safeEnv(env),
    sink: ctx.sink,
    signal: ctx.signal,
    allowFailure: true,
    cwd: '/',
  });
  if (result.exitCode !== 0) {
    const how = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.exitCode}`;
    const tail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('\n');
    throw runtimeError(
      kind === 'hook' ? 'E_HOOK' : 'E_ROLE',
      `guest "${spec.name}": ${kind} "${argv[0]}" ${how}`,
      `its output is in the log${tail ? `; last lines:\n${tail}` : ''}`,
    );
  }
}

/** Runs every hook of `spec.hooks.dirs` on the tree; a failing hook fails with its name. */
export async function runHooks(
  root: string,
  spec: GuestSpec,
  env: Record<string, string>,
  ctx: StepContext,
  hooks: readonly HookFile[] = listHooks(spec.hooks.dirs),
): Promise<void> {
  if (!spec.hooks.enabled || hooks.length === 0) return;
  await withDaemonsDisabled(root, async () => {
    for (const hook of hooks) {
      ctx.reporter.progress('customize.hooks', hook.name);
      await runOne('hook', [hook.path, root], spec, env, ctx);
    }
  });
}

/** The file of a role: a name under roleDir, or a path as given. */
export function roleFile(spec: GuestSpec, role: string): string {
  return role.includes('/') ? role : path.join(spec.hooks.roleDir, role);
}

/** Runs roles (`--role` or `--finalrole`) with argv [role, ROOT, ...role-args]. */
export async function runRoles(
  roles: readonly string[],
  root: string,
  spec: GuestSpec,
  env: Record<string, string>,
  ctx: StepContext,
): Promise<void> {
  const args = (spec.hooks.roleArgs ?? '').split(/\s+/).filter(Boolean);
  const files = roles.map((role) => ({ role, file: roleFile(spec, role) }));
  for (const { role, file } of files) {
    if (!isExecutableFile(file)) {
      throw usageError(
        'E_ROLE',
        `role "${role}" has no executable ${file}`,
        `roles live in ${spec.hooks.roleDir}`,
      );
    }
  }
  if (files.length === 0) return;
  await withDaemonsDisabled(root, async () => {
    for (const { file } of files) await runOne('role', [file, root, ...args], spec, env, ctx);
  });
}

const POLICY_RC_D = '/usr/sbin/policy-rc.d';

/**
 * Hooks often `chroot ROOT apt-get install`: a policy-rc.d answering 101 keeps package scripts
 * from starting daemons in the tree while they run (what xen-tools' 01-disable-daemons does).
 */
export async function withDaemonsDisabled<T>(root: string, fn: () => Promise<T>): Promise<T> {
  const editor = new TreeEditor(root);
  if (!editor.isPresent(POLICY_RC_D) && editor.exists('/usr/sbin')) {
    editor.writeFile(
      POLICY_RC_D,
      '#!/bin/sh\n# xenkit: no daemons start while the image is built\nexit 101\n',
      {
        mode: 0o755,
      },
    );
  }
  try {
    return await fn();
  } finally {
    editor.rollback();
  }
}
