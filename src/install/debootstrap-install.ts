/**
 * Installing with debootstrap (`--variant=minbase`). Debian's debootstrap writes its own
 * policy-rc.d (exit 101) and a fake start-stop-daemon while it configures packages, including
 * the `--include`d ones, and removes both at the end; ours is put in first as well, for
 * `--debootstrap-cmd` tools that do not. `--cache` uses debootstrap's own `--cache-dir` with a
 * directory of ours, never the host's /var/cache/apt/archives (xen-tools copied that whole
 * directory into the guest and filled its disk).
 */
import { lstat, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PlanAction, StepContext } from '../plan/plan.js';
import {
  buildDebootstrapArgv,
  runDebootstrap,
  splitToolCommand,
  type DebootstrapOptions,
} from '../tools/debootstrap.js';
import { packageCacheDir, resolveBootstrapSources } from './bootstrap-sources.js';
import { guestInitramfsFiles, installsKernel, writeGuestInitramfsConfig } from './guest-initramfs.js';
import type { InstallRequest } from './install-request.js';

const POLICY_RC_D = 'usr/sbin/policy-rc.d';
/** invoke-rc.d asks policy-rc.d; 101 means "action forbidden", so no service starts. */
const POLICY_RC_D_SCRIPT = '#!/bin/sh\n# xenkit: no services start while the tree is built\nexit 101\n';

/** The debootstrap options for a request. */
export function debootstrapOptionsFor(request: InstallRequest): DebootstrapOptions {
  const { install } = request;
  const sources = resolveBootstrapSources(install, request.packages, request.withBasePackages);
  return {
    command: splitToolCommand(install.debootstrapCommand),
    suite: sources.suite,
    target: request.target,
    mirror: sources.mirror,
    variant: 'minbase',
    components: sources.components,
    include: sources.include,
    architecture: install.arch,
    keyring: sources.keyring,
    cacheDir: install.cache ? path.resolve(packageCacheDir(install)) : undefined,
  };
}

/** debootstrap's downloader (wget) takes the proxy from the environment. */
function proxyEnv(proxy: string | undefined): Record<string, string> {
  return proxy ? { http_proxy: proxy } : {};
}

/** The actions of a debootstrap install, for `--dry-run`. */
export function describeDebootstrapInstall(request: InstallRequest): PlanAction[] {
  const options = debootstrapOptionsFor(request);
  const actions: PlanAction[] = [];
  if (options.cacheDir) actions.push({ kind: 'mkdir', path: options.cacheDir });
  actions.push({
    kind: 'write',
    path: path.join(request.target, POLICY_RC_D),
    mode: 0o755,
    content: POLICY_RC_D_SCRIPT,
  });
  if (installsKernel(options.include)) {
    for (const file of guestInitramfsFiles()) {
      const at = path.join(request.target, file.path);
      actions.push({ kind: 'write', path: at, mode: file.mode, content: file.content });
    }
  }
  if (request.install.aptProxy)
    actions.push({ kind: 'note', text: `http_proxy=${request.install.aptProxy}` });
  actions.push({ kind: 'run', argv: buildDebootstrapArgv(options) });
  actions.push({ kind: 'remove', path: path.join(request.target, POLICY_RC_D) });
  return actions;
}

/** Removes our policy-rc.d unless the tree now has another one (a package's own). */
async function removeOurPolicy(target: string): Promise<void> {
  const file = path.join(target, POLICY_RC_D);
  const st = await lstat(file).catch(() => undefined);
  if (!st?.isFile()) return;
  const text = await readFile(file, 'utf8').catch(() => '');
  if (text === POLICY_RC_D_SCRIPT || text.trim() === '#!/bin/sh\nexit 101') await rm(file, { force: true });
}

/** Bootstraps the target with debootstrap, reporting progress under `stepId`. */
export async function installWithDebootstrap(request: InstallRequest, ctx: StepContext): Promise<void> {
  const options = debootstrapOptionsFor(request);
  if (options.cacheDir) await mkdir(options.cacheDir, { recursive: true, mode: 0o755 });
  const policy = path.join(request.target, POLICY_RC_D);
  await mkdir(path.dirname(policy), { recursive: true, mode: 0o755 });
  await writeFile(policy, POLICY_RC_D_SCRIPT, { mode: 0o755 });
  // debootstrap extracts over what is there: the kernel's postinst then builds the small initramfs.
  if (installsKernel(options.include)) await writeGuestInitramfsConfig(request.target);
  const stepId = request.stepId ?? 'install.bootstrap';
  try {
    await runDebootstrap(options, {
      signal: ctx.signal,
      sink: ctx.sink,
      env: proxyEnv(request.install.aptProxy),
      onProgress: (text) => ctx.reporter.progress(stepId, text),
    });
  } finally {
    await removeOurPolicy(request.target);
  }
}
