/**
 * Installing with mmdebstrap (root mode, directory format). mmdebstrap keeps services from starting
 * itself: in the chroot it replaces /usr/sbin/policy-rc.d (exit 101) and /sbin/start-stop-daemon
 * with no-ops for the whole run and restores them at the end, and it unmounts its /proc, /sys and
 * /dev mounts on exit; target-guard.ts catches what a killed mmdebstrap leaves behind.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { findDistribution } from '../config/distributions.js';
import type { PlanAction, StepContext } from '../plan/plan.js';
import {
  buildMmdebstrapArgv,
  quoteHookWord,
  runMmdebstrap,
  type MmdebstrapOptions,
} from '../tools/mmdebstrap.js';
import type { MmdebstrapVariant } from '../tools/mmdebstrap.js';
import { packageCacheDir, resolveBootstrapSources } from './bootstrap-sources.js';
import { guestInitramfsFiles, installsKernel, writeGuestInitramfsConfig } from './guest-initramfs.js';
import type { InstallRequest } from './install-request.js';

/**
 * `apt` (Essential + apt + what --include names) is the fastest variant that still boots: the
 * kernel, systemd-sysv and udev come from basePackages. Measured on bookworm with that package
 * set: apt 146 packages, minbase 150, important 182, for about the same time (see the report).
 */
export const DEFAULT_MMDEBSTRAP_VARIANT: MmdebstrapVariant = 'apt';

const ARCHIVES = '/var/cache/apt/archives';

/**
 * mmdebstrap's own hook set that runs dpkg under eatmydata (fsync a no-op) and takes it out of
 * the tree again at the end. `force-unsafe-io` alone still leaves dpkg's database syncs: with
 * the hook, bookworm bootstraps took 56-70 s instead of 85-109 s (alternating, same load).
 */
export const EATMYDATA_HOOK_DIR = '/usr/share/mmdebstrap/hooks/eatmydata';

/**
 * Whether the host has the eatmydata hooks (shipped with mmdebstrap since 0.8) and what they run
 * on the host: dpkg-architecture, from dpkg-dev, which mmdebstrap does not depend on.
 */
function canUseEatmydata(): boolean {
  return existsSync(EATMYDATA_HOOK_DIR) && existsSync('/usr/bin/dpkg-architecture');
}

/**
 * mmdebstrap's hook set that makes /usr merged with symlinks before anything is unpacked, as
 * debootstrap does, and installs `usr-is-merged`. Without it, the essential set pulls in usrmerge,
 * which brings perl and its modules and runs its converter over a tree that needs no converting.
 */
export const MERGED_USR_HOOK_DIR = '/usr/share/mmdebstrap/hooks/merged-usr';

/** Whether this bootstrap can use the merged-usr hooks (the release has usr-is-merged). */
function canUseMergedUsrHook(dist: string, include: string[]): boolean {
  return (
    (findDistribution(dist)?.hasUsrIsMerged ?? false) &&
    !include.includes('usrmerge') &&
    existsSync(MERGED_USR_HOOK_DIR)
  );
}

/**
 * The host directory mmdebstrap copies the guest's initramfs configuration from: beside the
 * target (a directory this run owns, not a guessable name in a world-writable /tmp), and the
 * same in `--dry-run` as in the run.
 */
export function initramfsSourceDir(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.initramfs`);
}

/**
 * sync-in needs the archive directory inside, which the setup stage has not made yet. This is the
 * man page's own hook: a constant shell line that mmdebstrap runs with the target as `$1`.
 */
const CREATE_ARCHIVES_HOOK = `mkdir -p "$1"${ARCHIVES}/`;

/**
 * Programs that dpkg's maintainer scripts run more than once in a bootstrap, each time over the
 * whole tree, run once at the end instead. From the essential stage on, each is diverted to a
 * no-op; the customize stage removes the diversions (so the guest's dpkg database has none) and
 * runs each once, with every package in place; the guest's own copies are the packages',
 * untouched, from then on.
 * - The initramfs: the kernel's postinst builds it (`update-initramfs -c`) before every package
 *   that adds to it is configured, and the initramfs-tools trigger builds it again (3-4 s each).
 * - The CA certificates: ca-certificates' postinst rebuilds /etc/ssl/certs and its trigger does it
 *   again, each time a shell loop of about 900 processes over 146 certificates (5-7 s of CPU here).
 * The two final runs touch different files and run side by side.
 */
export interface DeferredProgram {
  /** The program's path in the guest. */
  bin: string;
  /** The shell words that do its job once, run in the guest by chroot. */
  run: string;
}

export const DEFERRED_INITRAMFS: DeferredProgram = {
  bin: '/usr/sbin/update-initramfs',
  run: 'update-initramfs -c -k all',
};
export const DEFERRED_CA_CERTIFICATES: DeferredProgram = {
  bin: '/usr/sbin/update-ca-certificates',
  run: 'update-ca-certificates --fresh',
};

function divert(bin: string): string {
  return `dpkg-divert --quiet --local --rename --divert ${bin}.xenkit`;
}

/** The essential hook that diverts each program to a no-op. */
export function deferHook(programs: DeferredProgram[]): string {
  return programs
    .map(
      ({ bin }) =>
        `chroot "$1" ${divert(bin)} --add ${bin}` +
        ` && printf '#!/bin/sh\\nexit 0\\n' > "$1${bin}" && chmod 755 "$1${bin}"`,
    )
    .join(' && ');
}

/**
 * The customize hook that puts each program back and runs it once; with two, the first runs in
 * the background beside the second and the hook fails when either fails.
 */
export function runDeferredHook(programs: DeferredProgram[]): string {
  const restore = programs.map(({ bin }) => `rm -f "$1${bin}" && chroot "$1" ${divert(bin)} --remove ${bin}`);
  const runs = programs.map(({ run }) => `chroot "$1" ${run}`);
  const last = runs.pop();
  const background = runs.map((run, i) => `{ ${run} & p${i}=$!; }`);
  const waits = runs.map((_, i) => ` && wait $p${i}`).join('');
  const together =
    runs.length === 0
      ? `${last}`
      : `${background.join(' && ')} && { ${last}; s=$?; }${waits} && [ $s -eq 0 ]`;
  return [...restore, together].join(' && ');
}

/**
 * openssh-server's postinst makes the host keys the sshd_config asks for (RSA 3072, ECDSA,
 * ed25519) unless their files exist; every one of them is thrown away again (sanitize.ts: every
 * guest gets its own, made on the host), and the RSA prime search is 0.3-2 s of CPU. So the
 * essential stage leaves an empty file at each default path, and the customize stage removes
 * the empty ones it finds there (never a key with content).
 */
export const SSH_HOST_KEY_PLACEHOLDERS = ['rsa', 'ecdsa', 'ed25519'].map(
  (type) => `/etc/ssh/ssh_host_${type}_key`,
);

/** The placeholders' paths in the target (`$1` of a hook), as the hooks' shell words. */
const PLACEHOLDER_WORDS = SSH_HOST_KEY_PLACEHOLDERS.map((f) => `"$1${f}"`).join(' ');

/** The essential hook that puts the empty placeholders in (where no file is yet). */
export function sshKeyPlaceholderHook(): string {
  return `mkdir -p "$1/etc/ssh" && for f in ${PLACEHOLDER_WORDS}; do [ -e "$f" ] || install -m 600 /dev/null "$f"; done`;
}

/** The customize hook that removes the placeholders still empty (the postinst left them alone). */
export function sshKeyPlaceholderCleanupHook(): string {
  return `for f in ${PLACEHOLDER_WORDS}; do if [ -f "$f" ] && [ ! -s "$f" ]; then rm -f "$f" || exit 1; fi; done`;
}

/**
 * mmdebstrap downloads the essential packages, extracts and installs them (15 s of one core
 * here), and only then downloads the rest (the kernel, systemd, ssh: 90 MB, 4-5 s) and installs
 * it. The extract hook starts that second download in the background, with the target's own apt
 * configuration (`MMDEBSTRAP_APT_CONFIG`, the lists already fetched) into the target's archive,
 * beside the essential stage; the essential hook waits for it, so the apt that installs the rest
 * finds its packages there. Nothing depends on it: a failed or partial prefetch only leaves apt
 * to download what is missing. It takes no apt lock (dpkg holds the target's while the
 * essential packages install; the archive's files are apt's own partial-then-rename), and it
 * stops itself when mmdebstrap goes away (a cancelled run), checked every 0.2 s.
 */
const PREFETCH_DONE = '/var/cache/apt/archives/xenkit-prefetch.done';
const PREFETCH_PID = '/var/cache/apt/archives/xenkit-prefetch.pid';
const PREFETCH_LOG = '/var/cache/apt/archives/xenkit-prefetch.log';

/** The extract hook that starts the prefetch of `packages` in the background. */
export function prefetchHook(packages: string[]): string {
  const apt =
    `APT_CONFIG="$MMDEBSTRAP_APT_CONFIG" apt-get --yes -o Debug::NoLocking=true --download-only ` +
    `install ${packages.map(quoteHookWord).join(' ')} >"$1${PREFETCH_LOG}" 2>&1`;
  return (
    `mm=$PPID; ( ${apt} & a=$!; echo $a > "$1${PREFETCH_PID}"; ` +
    `while kill -0 $a 2>/dev/null; do kill -0 $mm 2>/dev/null || kill $a 2>/dev/null; sleep 0.2; done; ` +
    `wait $a; echo $? > "$1${PREFETCH_DONE}" ) </dev/null >/dev/null 2>&1 &`
  );
}

/**
 * The essential hook that waits for the prefetch (at most 5 minutes, then stops it), copies its
 * output into the build log and removes its files.
 */
export function prefetchWaitHook(): string {
  return (
    `i=0; while [ ! -e "$1${PREFETCH_DONE}" ] && [ $i -lt 3000 ]; do sleep 0.1; i=$((i+1)); done; ` +
    `[ -e "$1${PREFETCH_DONE}" ] || kill "$(cat "$1${PREFETCH_PID}" 2>/dev/null)" 2>/dev/null; ` +
    `tail -n 3 "$1${PREFETCH_LOG}" 2>/dev/null | sed 's/^/prefetch: /' >&2; ` +
    `echo "prefetch: exit status $(cat "$1${PREFETCH_DONE}" 2>/dev/null || echo 'none (stopped)')" >&2; ` +
    `rm -f "$1${PREFETCH_DONE}" "$1${PREFETCH_PID}" "$1${PREFETCH_LOG}"`
  );
}

/** The apt option that sends downloads through `proxy`. */
function proxyOption(proxy: string): string {
  return `Acquire::http::Proxy "${proxy}"`;
}

/**
 * `deb` lines for the updates and security suites, so the tree starts with current packages
 * (the kernel above all); the customize step writes the guest's own sources afterwards.
 */
function extraSuites(request: InstallRequest, components: string[]): string[] {
  const dist = findDistribution(request.install.dist);
  if (!dist) return [];
  const lines: string[] = [];
  const mirror = request.install.mirror || dist.mirror;
  if (dist.updatesSuite) lines.push(`deb ${mirror} ${dist.updatesSuite} ${components.join(' ')}`);
  if (dist.security) {
    const securityMirror = request.install.securityMirror ?? dist.security.mirror;
    lines.push(`deb ${securityMirror} ${dist.security.suite} ${components.join(' ')}`);
  }
  return lines;
}

/**
 * The mmdebstrap options for a request. With `--cache`, the idiom of mmdebstrap(1): the cache is
 * synced into the target's apt archive before anything is downloaded, `essential/unlink` is
 * skipped so the essential .debs stay there, and the archive is synced back out in the customize
 * hook; mmdebstrap's cleanup then empties the archive, so no .deb stays in the guest.
 */
export function mmdebstrapOptionsFor(request: InstallRequest, command?: string): MmdebstrapOptions {
  const sources = resolveBootstrapSources(request.install, request.packages, request.withBasePackages);
  const cache = request.install.cache ? packageCacheDir(request.install) : undefined;
  // Before any package is configured, so the kernel's postinst already builds the small initramfs.
  const kernel = installsKernel(sources.include);
  const deferred = [
    ...(sources.include.includes('ca-certificates') ? [DEFERRED_CA_CERTIFICATES] : []),
    ...(kernel ? [DEFERRED_INITRAMFS] : []),
  ];
  const sshServer = sources.include.includes('openssh-server');
  // The apt variant installs its --include after the essential stage: fetched beside it.
  const variant = request.variant ?? DEFAULT_MMDEBSTRAP_VARIANT;
  const prefetch = variant === 'apt' && sources.include.length > 0 ? sources.include : undefined;
  const initramfsHooks = kernel
    ? [`copy-in ${quoteHookWord(path.join(initramfsSourceDir(request.target), 'etc'))} /`]
    : [];
  return {
    command,
    suite: sources.suite,
    target: request.target,
    mirrors: [sources.mirror, ...extraSuites(request, sources.components)],
    variant,
    components: sources.components,
    include: sources.include,
    architecture: request.install.arch,
    keyring: sources.keyring,
    aptOptions: request.install.aptProxy ? [proxyOption(request.install.aptProxy)] : [],
    // A throw-away build needs no fsync after every file dpkg unpacks (a crash just means a
    // rebuild); it is dropped from the guest's dpkg configuration afterwards.
    dpkgOptions: [UNSAFE_IO],
    skip: cache ? ['essential/unlink'] : [],
    setupHooks: [
      ...initramfsHooks,
      ...(cache ? [CREATE_ARCHIVES_HOOK, `sync-in ${quoteHookWord(cache)} ${ARCHIVES}/`] : []),
    ],
    extractHooks: prefetch ? [prefetchHook(prefetch)] : [],
    essentialHooks: [
      ...(prefetch ? [prefetchWaitHook()] : []),
      ...(deferred.length > 0 ? [deferHook(deferred)] : []),
      ...(sshServer ? [sshKeyPlaceholderHook()] : []),
    ],
    customizeHooks: [
      ...(sshServer ? [sshKeyPlaceholderCleanupHook()] : []),
      ...(deferred.length > 0 ? [runDeferredHook(deferred)] : []),
      ...(cache ? [`sync-out ${ARCHIVES} ${quoteHookWord(cache)}`] : []),
    ],
    hookDirectories: [
      ...(canUseMergedUsrHook(request.install.dist, sources.include) ? [MERGED_USR_HOOK_DIR] : []),
      ...(canUseEatmydata() ? [EATMYDATA_HOOK_DIR] : []),
    ],
    verbose: true,
  };
}

function copiesInitramfsConfig(options: MmdebstrapOptions): boolean {
  return options.setupHooks?.some((hook) => hook.startsWith('copy-in ')) ?? false;
}

/** The actions of an mmdebstrap install, for `--dry-run`. */
export function describeMmdebstrapInstall(request: InstallRequest, command?: string): PlanAction[] {
  const options = mmdebstrapOptionsFor(request, command);
  const actions: PlanAction[] = [];
  if (request.install.cache) actions.push({ kind: 'mkdir', path: packageCacheDir(request.install) });
  if (copiesInitramfsConfig(options)) {
    for (const file of guestInitramfsFiles()) {
      const at = path.join(initramfsSourceDir(request.target), file.path);
      actions.push({ kind: 'write', path: at, mode: file.mode, content: file.content });
    }
  }
  actions.push({ kind: 'run', argv: buildMmdebstrapArgv(options) });
  if (request.install.aptProxy) {
    actions.push({ kind: 'note', text: `drop the install-time proxy from ${aptConfPath(request.target)}` });
  }
  return actions;
}

function aptConfPath(target: string): string {
  return path.join(target, 'etc/apt/apt.conf.d/99mmdebstrap');
}

/**
 * `--aptopt` is permanent in the target's 99mmdebstrap; the proxy was for the build host only,
 * and the customize step configures the guest's own apt (and proxy) afterwards.
 */
async function dropInstallProxy(target: string, proxy: string): Promise<void> {
  const file = aptConfPath(target);
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const kept = text.split('\n').filter((line) => !line.includes(proxyOption(proxy)));
  if (kept.join('').trim() === '') await rm(file, { force: true });
  else await writeFile(file, kept.join('\n'));
}

/** Bootstraps the target with mmdebstrap, reporting progress under `stepId`. */
export async function installWithMmdebstrap(
  request: InstallRequest,
  ctx: StepContext,
  command?: string,
): Promise<void> {
  if (request.install.cache) await mkdir(packageCacheDir(request.install), { recursive: true, mode: 0o755 });
  const stepId = request.stepId ?? 'install.bootstrap';
  const options = mmdebstrapOptionsFor(request, command);
  const initramfsDir = initramfsSourceDir(request.target);
  try {
    if (copiesInitramfsConfig(options)) {
      // A stale copy from a killed run is replaced, never trusted.
      await rm(initramfsDir, { recursive: true, force: true });
      await mkdir(initramfsDir, { mode: 0o700 });
      await writeGuestInitramfsConfig(initramfsDir);
    }
    await runMmdebstrap(options, {
      signal: ctx.signal,
      sink: ctx.sink,
      onProgress: (text) => ctx.reporter.progress(stepId, text),
    });
  } finally {
    await rm(initramfsDir, { recursive: true, force: true });
  }
  if (request.install.aptProxy) await dropInstallProxy(request.target, request.install.aptProxy);
  await dropLine(path.join(request.target, 'etc/dpkg/dpkg.cfg.d/99mmdebstrap'), UNSAFE_IO);
}

const UNSAFE_IO = 'force-unsafe-io';

/** Removes `line` from a config file mmdebstrap wrote, and the file when nothing else is left. */
async function dropLine(file: string, line: string): Promise<void> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const kept = text.split('\n').filter((l) => l.trim() !== line);
  if (kept.join('').trim() === '') await rm(file, { force: true });
  else await writeFile(file, kept.join('\n'));
}
