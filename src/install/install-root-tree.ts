/**
 * installRootTree: fills an empty staging directory with a guest's complete Debian root tree by
 * one of the install methods, then sanitizes it. It works on a directory only (the image is made
 * later with `mkfs -d`), never leaves a process or a mount inside the target, and has a pure
 * describeInstall twin that lists the exact argv for `--dry-run`.
 */
import { readdir } from 'node:fs/promises';
import { runtimeError, usageError } from '../errors.js';
import type { InstallMethod } from '../model/guest-spec.js';
import type { PlanAction, StepContext } from '../plan/plan.js';
import { hasCommand } from '../tools/exec.js';
import { describeCopyInstall, installByCopy } from './copy-install.js';
import { describeDebootstrapInstall, installWithDebootstrap } from './debootstrap-install.js';
import type { InstallRequest, InstallResult } from './install-request.js';
import { describeMmdebstrapInstall, installWithMmdebstrap } from './mmdebstrap-install.js';
import { describeSanitize, sanitizeRootTree } from './sanitize.js';
import { describeTarInstall, installFromTar } from './tar-install.js';
import { guardTarget, releaseTarget } from './target-guard.js';
import { countInstalledPackages, findGuestKernel, hasShell, measureTreeBytes } from './tree-facts.js';

/** The method that will run: `none` when installation is disabled (`--install=0`). */
export function effectiveMethod(request: InstallRequest): InstallMethod {
  return request.install.enabled ? request.install.method : 'none';
}

/** The bootstrapper to use when the user named none: mmdebstrap when installed (about twice as fast). */
export async function defaultBootstrapMethod(): Promise<'mmdebstrap' | 'debootstrap'> {
  return (await hasCommand('mmdebstrap')) ? 'mmdebstrap' : 'debootstrap';
}

/** What installRootTree will do, as plan actions with exact argv (pure: no I/O). */
export function describeInstall(request: InstallRequest): PlanAction[] {
  const method = effectiveMethod(request);
  const install = ((): PlanAction[] => {
    switch (method) {
      case 'mmdebstrap':
        return describeMmdebstrapInstall(request);
      case 'debootstrap':
        return describeDebootstrapInstall(request);
      case 'copy':
        return describeCopyInstall(request);
      case 'tar':
        return describeTarInstall(request);
      case 'none':
        return [{ kind: 'note', text: 'installation disabled (--install=0): the target is left as it is' }];
    }
  })();
  return method === 'none' ? install : [...install, ...describeSanitize(request.target)];
}

async function runMethod(method: InstallMethod, request: InstallRequest, ctx: StepContext): Promise<void> {
  switch (method) {
    case 'mmdebstrap':
      return installWithMmdebstrap(request, ctx);
    case 'debootstrap':
      return installWithDebootstrap(request, ctx);
    case 'copy':
      return installByCopy(request, ctx);
    case 'tar':
      return installFromTar(request, ctx);
    case 'none':
      return;
  }
}

async function checkTarget(request: InstallRequest): Promise<void> {
  const names = await readdir(request.target).catch(() => undefined);
  if (names === undefined) {
    throw usageError(
      'E_INSTALL_TARGET',
      `install target "${request.target}" is not a directory`,
      'create it first',
    );
  }
  // mmdebstrap refuses a non-empty directory; the other methods would mix two trees.
  const stray = names.filter((n) => n !== 'lost+found');
  if (stray.length > 0) {
    throw usageError(
      'E_INSTALL_TARGET',
      `install target "${request.target}" is not empty (${stray.slice(0, 3).join(', ')}...)`,
      'install into a new, empty staging directory',
    );
  }
}

/**
 * Installs a root tree into `request.target` and sanitizes it (see sanitize.ts). Registers an undo
 * that stops processes and unmounts anything left inside the target, and runs the same release
 * itself after the installer ends, successful or not.
 */
export async function installRootTree(request: InstallRequest, ctx: StepContext): Promise<InstallResult> {
  const started = Date.now();
  const method = effectiveMethod(request);
  const empty = { method, packagesInstalled: 0, treeBytes: 0, sanitized: [] };
  if (method === 'none') return { ...empty, durationMs: Date.now() - started };
  await checkTarget(request);
  guardTarget(request.target, ctx);
  let failure: unknown;
  try {
    await runMethod(method, request, ctx);
  } catch (error) {
    failure = error;
  }
  try {
    const released = await releaseTarget(request.target, ctx.sink);
    if (released.killed.length > 0) {
      const names = released.killed.map((p) => `${p.command}[${p.pid}]`).join(', ');
      ctx.reporter.warn(`killed ${names}, left running inside ${request.target}`);
    }
  } catch (error) {
    if (failure === undefined) throw error;
    // The installer's own error is the one to report; the undo retries the release.
    ctx.sink({ type: 'warn', message: error instanceof Error ? error.message : String(error) });
  }
  if (failure !== undefined) throw failure;
  if (!(await hasShell(request.target))) {
    throw runtimeError(
      'E_INSTALL_INCOMPLETE',
      `install into "${request.target}" (${method}) produced no /bin/sh: not a complete system`,
      method === 'copy' || method === 'tar'
        ? 'check --install-source'
        : 'see the log for the installer output',
    );
  }
  const sanitized = await sanitizeRootTree(request.target);
  const kernel = await findGuestKernel(request.target);
  return {
    method,
    packagesInstalled: await countInstalledPackages(request.target),
    treeBytes: await measureTreeBytes(request.target, { sink: ctx.sink, signal: ctx.signal }),
    ...(kernel ? { kernel: kernel.kernel } : {}),
    ...(kernel?.initrd ? { initrd: kernel.initrd } : {}),
    sanitized,
    durationMs: Date.now() - started,
  };
}
