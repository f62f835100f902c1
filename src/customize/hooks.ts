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
import { baseEnv, runCommand } from '../tools/exec.js';
import { isPackageInstall, withChrootWatch, type ChrootWatch } from './chroot-watch.js';
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

/**
 * xen-tools' Debian hooks (/usr/share/xen-tools/debian.d, without their number) and the built-in
 * step each one stands for: a user hook of that name replaces the step, as it replaced the
 * distribution's hook in xen-tools. README lists the same table.
 */
export const XEN_TOOLS_HOOK_STEPS: Readonly<Record<string, string>> = {
  'setup-apt': 'apt',
  'disable-gettys': 'console',
  'setup-users': 'accounts',
  'setup-networking': 'network',
  'setup-hostname': 'hostname',
  'copy-user-files': 'skel',
  'install-ssh': 'ssh-host-keys',
  'install-kernel': 'boot-menu',
  'install-modules': 'modules',
  'make-fstab': 'fstab',
};

/**
 * The built-in step ids that hooks replace: a hook named `ID` or `NN-ID`, or named like the
 * xen-tools hook that stood for the step (`40-setup-networking` replaces `network`).
 */
export function replacedStepIds(hooks: readonly HookFile[], stepIds: readonly string[]): Set<string> {
  const ids = new Set<string>();
  for (const hook of hooks) {
    const bare = hook.name.replace(/^\d+-/, '');
    const step = [hook.name, bare, XEN_TOOLS_HOOK_STEPS[bare]].find(
      (id): id is string => id !== undefined && stepIds.includes(id),
    );
    if (step) ids.add(step);
  }
  return ids;
}

/** Removes secret variables, whatever the caller put in. */
function safeEnv(env: Record<string, string>): Record<string, string> {
  const out = { ...env };
  for (const name of SECRET_ENV_NAMES) delete out[name];
  return out;
}

const UNABLE_TO_LOCATE = /^E: Unable to locate package (\S+)/;

/**
 * Runs one hook or role. Fails on a non-zero status, and on a package installation that failed
 * inside the guest (seen through the chroot watch, whatever the script did with apt's status);
 * returns warnings for the other commands that failed in the guest and for packages apt could not
 * find, which xen-tools let pass without a word.
 */
async function runOne(
  kind: 'hook' | 'role',
  argv: string[],
  spec: GuestSpec,
  env: Record<string, string>,
  ctx: StepContext,
  watch: ChrootWatch,
): Promise<string[]> {
  const missing = new Set<string>();
  const result = await runCommand(argv, {
    env: { ...safeEnv(env), ...watch.env },
    sink: ctx.sink,
    signal: ctx.signal,
    allowFailure: true,
    cwd: '/',
    onLine: (line) => {
      const found = UNABLE_TO_LOCATE.exec(line.trim());
      if (found?.[1]) missing.add(found[1]);
    },
  });
  const what = `${kind} "${path.basename(argv[0] ?? '')}"`;
  const failures = await watch.take();
  if (result.exitCode !== 0) {
    const how = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.exitCode}`;
    const tail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('\n');
    throw runtimeError(
      kind === 'hook' ? 'E_HOOK' : 'E_ROLE',
      `guest "${spec.name}": ${kind} "${argv[0]}" ${how}`,
      `its output is in the log${tail ? `; last lines:\n${tail}` : ''}`,
    );
  }
  const install = failures.find(isPackageInstall);
  if (install) {
    const packages = [...missing];
    throw runtimeError(
      kind === 'hook' ? 'E_HOOK' : 'E_ROLE',
      `guest "${spec.name}": ${what}: \`${install.argv.join(' ')}\` failed in the guest (status ${install.status})` +
        (packages.length > 0 ? `: apt could not find ${packages.join(', ')}` : ''),
      `the ${kind} exited 0 but did not install what it asked for; its output is in the log`,
    );
  }
  const warnings = failures.map(
    (f) => `${what}: \`${f.argv.join(' ')}\` failed in the guest (status ${f.status})`,
  );
  if (missing.size > 0) warnings.push(`${what}: apt could not find ${[...missing].join(', ')}`);
  for (const message of warnings) ctx.reporter.warn(message);
  return warnings;
}

/** Runs every hook of `spec.hooks.dirs` on the tree; a failing hook fails with its name. */
export async function runHooks(
  root: string,
  spec: GuestSpec,
  env: Record<string, string>,
  ctx: StepContext,
  hooks: readonly HookFile[] = listHooks(spec.hooks.dirs),
): Promise<string[]> {
  if (!spec.hooks.enabled || hooks.length === 0) return [];
  return withDaemonsDisabled(root, () =>
    withChrootWatch(baseEnv().PATH ?? '', async (watch) => {
      const warnings: string[] = [];
      for (const hook of hooks) {
        ctx.reporter.progress('customize.hooks', hook.name);
        warnings.push(...(await runOne('hook', [hook.path, root], spec, env, ctx, watch)));
      }
      return warnings;
    }),
  );
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
): Promise<string[]> {
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
  if (files.length === 0) return [];
  return withDaemonsDisabled(root, () =>
    withChrootWatch(baseEnv().PATH ?? '', async (watch) => {
      const warnings: string[] = [];
      for (const { role, file } of files) {
        ctx.reporter.progress('customize.roles', role);
        ctx.sink({ type: 'info', message: `role ${role}: ${file}` });
        warnings.push(...(await runOne('role', [file, root, ...args], spec, env, ctx, watch)));
      }
      return warnings;
    }),
  );
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
