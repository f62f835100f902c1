/**
 * Customizes a guest root tree (a directory that later becomes the image): the built-in steps in
 * order, then the user's hooks and roles. `describeCustomize` lists the same steps for --dry-run.
 */
import { findDistribution, knownReleases, type Distribution } from '../config/distributions.js';
import { usageError } from '../errors.js';
import type { GuestSpec } from '../model/guest-spec.js';
import type { PlanAction, StepContext } from '../plan/plan.js';
import { applyAccounts, describeAccounts } from './accounts.js';
import { applyApt, describeApt } from './apt-sources.js';
import { applyBootMenu, describeBootMenu } from './boot-menu.js';
import { applyBootTrim, describeBootTrim } from './boot-trim.js';
import { applyConsole, describeConsole } from './console.js';
import { applyCpuHotplug, describeCpuHotplug } from './cpu-hotplug.js';
import { applyFstab, describeFstab } from './fstab.js';
import { buildHookEnv } from './hook-env.js';
import { listHooks, replacedStepIds, roleFile, runHooks, runRoles, type HookFile } from './hooks.js';
import { applyHostname, describeHostname } from './hostname.js';
import {
  applyMachineId,
  applyRandomSeed,
  applySshHostKeys,
  describeMachineId,
  describeRandomSeed,
  describeSshHostKeys,
} from './identity.js';
import { applyNetwork, describeNetwork } from './network-step.js';
import { applyPassword, describePassword } from './password.js';
import { TreeEditor } from './tree-editor.js';
import { applySkel, describeSkel } from './skel.js';
import { applyHostModules, describeHostModules } from './host-modules.js';
import { withAptLists } from './apt-lists.js';
import {
  HOST_FILES,
  type BuiltinStep,
  type CustomizeResult,
  type GuestIds,
  type HostFiles,
} from './types.js';

/** The built-in steps, in the order they run. */
export const BUILTIN_STEPS: readonly BuiltinStep[] = [
  { id: 'apt', title: 'apt sources', describe: (s, d) => describeApt(s, d), apply: applyApt },
  {
    id: 'hostname',
    title: 'hostname, mailname and hosts',
    describe: (s) => describeHostname(s),
    apply: applyHostname,
  },
  {
    id: 'network',
    title: 'network (matched by MAC)',
    describe: (s, d) => describeNetwork(s, d),
    apply: applyNetwork,
  },
  { id: 'fstab', title: 'fstab by UUID', describe: (s, _d, ids) => describeFstab(s, ids), apply: applyFstab },
  {
    id: 'boot-menu',
    title: 'boot menu for the guest kernel',
    describe: (s, _d, ids) => describeBootMenu(s, ids),
    apply: applyBootMenu,
  },
  {
    id: 'modules',
    title: 'host kernel modules',
    describe: (s) => describeHostModules(s.boot.modules),
    apply: applyHostModules,
  },
  { id: 'console', title: 'login consoles', describe: (s) => describeConsole(s), apply: applyConsole },
  {
    id: 'cpu-hotplug',
    title: 'online hot-added vCPUs',
    describe: () => describeCpuHotplug(),
    apply: applyCpuHotplug,
  },
  {
    id: 'boot-trim',
    title: 'boot units and modules a guest does not need',
    describe: () => describeBootTrim(),
    apply: applyBootTrim,
  },
  {
    id: 'password',
    title: 'root password',
    describe: (s, _d, ids) =>
      describePassword(ids ? ids.passwordHash !== undefined : s.accounts.rootPassword.kind !== 'none'),
    apply: applyPassword,
  },
  {
    id: 'accounts',
    title: 'accounts and SSH keys',
    describe: (s) => describeAccounts(s),
    apply: applyAccounts,
  },
  {
    id: 'skel',
    title: 'files from the skel directory',
    describe: (s) => describeSkel(s.hooks.skelDir),
    apply: applySkel,
  },
  {
    id: 'ssh-host-keys',
    title: 'SSH host keys',
    describe: (s) => describeSshHostKeys(s.name),
    apply: applySshHostKeys,
  },
  { id: 'machine-id', title: 'empty machine-id', describe: () => describeMachineId(), apply: applyMachineId },
  { id: 'random-seed', title: 'random seed', describe: () => describeRandomSeed(), apply: applyRandomSeed },
];

export interface CustomizeOptions {
  /** Host files copied from (hosts, resolv.conf, passwd, shadow, group); the real ones by default. */
  host?: Partial<HostFiles>;
  /** Enable units with `systemctl --root` when the host has it (default true). */
  useSystemctl?: boolean;
}

/** The distribution of a spec, or a usage error naming the release. */
export function distributionOf(spec: GuestSpec): Distribution {
  const dist = findDistribution(spec.install.dist);
  if (!dist) {
    throw usageError(
      'E_DIST',
      `guest "${spec.name}": distribution "${spec.install.dist}" is unknown`,
      `known: ${knownReleases().join(', ')}`,
    );
  }
  return dist;
}

/** One described step of the customization, for a plan that shows them separately. */
export interface DescribedStep {
  id: string;
  title: string;
  actions: PlanAction[];
}

/** Every built-in step with what it will do, then the hook directories and roles. Pure. */
export function describeCustomizeSteps(spec: GuestSpec, ids?: GuestIds): DescribedStep[] {
  const dist = distributionOf(spec);
  const steps: DescribedStep[] = BUILTIN_STEPS.map((s) => ({
    id: s.id,
    title: s.title,
    actions: s.describe(spec, dist, ids),
  }));
  const scripts: DescribedStep[] = [];
  if (spec.hooks.enabled && spec.hooks.dirs.length > 0) {
    scripts.push({
      id: 'hooks',
      title: 'user hooks',
      actions: spec.hooks.dirs.map((dir) => ({
        kind: 'note',
        text: `run the executables in ${dir} in name order as HOOK <guest>; a hook named ID, NN-ID or like the xen-tools hook of step ID replaces built-in step ID`,
      })),
    });
  }
  if (spec.hooks.roles.length > 0) {
    scripts.push({ id: 'roles', title: 'roles', actions: describeRoles(spec, spec.hooks.roles) });
  }
  if (scripts.length > 0) {
    steps.push({ id: 'apt-lists', title: 'package lists for hooks and roles', actions: describeAptLists() });
  }
  steps.push(...scripts);
  return steps;
}

/** The package lists fetched around hooks and roles. */
export function describeAptLists(): PlanAction[] {
  return [
    {
      kind: 'note',
      text: 'before hooks and roles: chroot <guest> apt-get update when the tree has no package lists',
    },
    { kind: 'note', text: 'after them: chroot <guest> apt-get clean, and the package lists removed again' },
    {
      kind: 'note',
      text: 'a package installation that fails in the guest fails the build; other commands that fail there are warnings in the summary',
    },
  ];
}

/** The runs of `roles` (`--role` or `--finalrole`). */
export function describeRoles(spec: GuestSpec, roles: readonly string[]): PlanAction[] {
  const args = (spec.hooks.roleArgs ?? '').split(/\s+/).filter(Boolean);
  return roles.map((r) => ({ kind: 'run', argv: [roleFile(spec, r), '<guest>', ...args] }));
}

/** Every file the customization writes, as plan actions (paths inside the guest). Pure. */
export function describeCustomize(spec: GuestSpec, ids?: GuestIds): PlanAction[] {
  return describeCustomizeSteps(spec, ids).flatMap((s) => s.actions);
}

/**
 * Customizes the guest tree at `root`. Registers one undo that restores every file the built-in
 * steps touched; hooks and roles are the user's and are not undone file by file.
 */
export async function customizeGuest(
  root: string,
  spec: GuestSpec,
  ids: GuestIds,
  ctx: StepContext,
  options: CustomizeOptions = {},
): Promise<CustomizeResult> {
  const dist = distributionOf(spec);
  const hooks: HookFile[] = spec.hooks.enabled ? listHooks(spec.hooks.dirs) : [];
  const replaced = replacedStepIds(
    hooks,
    BUILTIN_STEPS.map((s) => s.id),
  );
  const editor = new TreeEditor(root);
  ctx.undo.push(`restore the files customized in ${root}`, () => editor.rollback());
  const result: CustomizeResult = { sshHostKeys: [], warnings: [] };
  const c = {
    root,
    spec,
    ids,
    dist,
    editor,
    step: ctx,
    host: { ...HOST_FILES, ...options.host },
    useSystemctl: options.useSystemctl ?? true,
    result,
  };
  for (const step of BUILTIN_STEPS) {
    if (ctx.signal.aborted) break;
    if (replaced.has(step.id)) {
      ctx.sink({ type: 'info', message: `customize: ${step.title}: replaced by a user hook` });
      continue;
    }
    ctx.reporter.progress('customize', step.title);
    ctx.sink({ type: 'info', message: `customize: ${step.title}` });
    await step.apply(c);
  }
  const env = buildHookEnv(spec);
  if (hooks.length > 0 || spec.hooks.roles.length > 0) {
    const hostResolv = c.host.resolvConf;
    await withAptLists(
      root,
      ctx,
      hostResolv,
      async () => {
        result.warnings.push(...(await runHooks(root, spec, env, ctx, hooks)));
        result.warnings.push(...(await runRoles(spec.hooks.roles, root, spec, env, ctx)));
      },
      spec.hooks.finalRoles.length > 0,
    );
  }
  return result;
}

/**
 * Runs `--finalrole` roles, as xen-tools does after the domain config is written (the planner
 * writes it before the tree becomes the image). Returns the warnings, as customizeGuest does.
 */
export async function runFinalRoles(
  root: string,
  spec: GuestSpec,
  ctx: StepContext,
  options: CustomizeOptions = {},
): Promise<string[]> {
  if (spec.hooks.finalRoles.length === 0) return [];
  const hostResolv = options.host?.resolvConf ?? HOST_FILES.resolvConf;
  return withAptLists(root, ctx, hostResolv, () =>
    runRoles(spec.hooks.finalRoles, root, spec, buildHookEnv(spec), ctx),
  );
}
