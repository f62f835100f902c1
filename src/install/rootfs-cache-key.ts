/**
 * The key of a root-tree cache entry: a hash of everything that changes the bootstrapped tree's
 * content (installer and its version, release, architecture, mirrors, variant, components, the
 * sorted package list, the keyring's content, the guest initramfs configuration, the cache
 * format). Two requests with the same key would bootstrap the same tree, so one cached tree
 * serves both.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { runCommand, type ExecOptions } from '../tools/exec.js';
import { memoizedAnswer } from '../tools/program-memo.js';
import { splitToolCommand } from '../tools/debootstrap.js';
import { debootstrapOptionsFor } from './debootstrap-install.js';
import { guestInitramfsConfigSha256, installsKernel } from './guest-initramfs.js';
import type { InstallRequest } from './install-request.js';
import { mmdebstrapOptionsFor } from './mmdebstrap-install.js';

/**
 * Bumped whenever what an entry holds changes meaning (layout, sanitizing, image parameters), so
 * entries of an older xenkit are never used.
 */
export const ROOTFS_CACHE_FORMAT = 1;

/** Everything that decides the content of a bootstrapped tree. */
export interface RootfsKeyFields {
  format: number;
  /** `mmdebstrap`, `debootstrap`, or the `--debootstrap-cmd` program. */
  installer: string;
  /** What `INSTALLER --version` prints, e.g. `mmdebstrap 1.3.5`. */
  installerVersion: string;
  suite: string;
  architecture: string;
  variant: string;
  /** The main mirror first, then the extra `deb` lines (updates, security), in order. */
  mirrors: string[];
  components: string[];
  /** The `--include` list, sorted: the order does not change what gets installed. */
  packages: string[];
  /** sha256 of the keyring file's content; null when the installer's default is used. */
  keyringSha256: string | null;
  /**
   * sha256 of xenkit's initramfs configuration written into the tree (guest-initramfs.ts), when
   * the packages include a kernel (the tree's initramfs is built from it); else null.
   */
  initramfsConfigSha256: string | null;
}

/** How the installer version is found (injectable: tests give a fake). */
export type InstallerVersionReader = (program: string) => Promise<string>;

/** JSON with object keys sorted at every level, so equal values always hash the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The key of `fields`: 32 hex digits of the sha256 of their canonical JSON. */
export function computeRootfsKey(fields: RootfsKeyFields): string {
  return createHash('sha256').update(canonicalJson(fields)).digest('hex').slice(0, 32);
}

/** Whether the request's install method produces a tree worth caching (a bootstrap from an archive). */
export function isCacheableInstall(request: InstallRequest): boolean {
  const { install } = request;
  return install.enabled && (install.method === 'mmdebstrap' || install.method === 'debootstrap');
}

/** The installer program of a cacheable request (the `--debootstrap-cmd` program, if given). */
export function installerProgram(request: InstallRequest): string {
  if (request.install.method === 'mmdebstrap') return 'mmdebstrap';
  return splitToolCommand(request.install.debootstrapCommand)?.[0] ?? 'debootstrap';
}

/** sha256 of a file's content, or null when there is no file to read. */
export async function hashFileContent(file: string | undefined): Promise<string | null> {
  if (!file) return null;
  const data = await readFile(file).catch(() => undefined);
  return data ? createHash('sha256').update(data).digest('hex') : null;
}

/** The key fields of a cacheable request (undefined for copy, tar and `--install=0`). */
export async function gatherRootfsKeyFields(
  request: InstallRequest,
  readVersion: InstallerVersionReader,
): Promise<RootfsKeyFields | undefined> {
  if (!isCacheableInstall(request)) return undefined;
  const installer = installerProgram(request);
  const base = bootstrapParameters(request);
  const [installerVersion, keyringSha256] = await Promise.all([
    readVersion(installer),
    hashFileContent(base.keyring),
  ]);
  return {
    format: ROOTFS_CACHE_FORMAT,
    installer,
    installerVersion,
    suite: base.suite,
    architecture: base.architecture ?? request.install.arch,
    variant: base.variant,
    mirrors: base.mirrors,
    components: [...base.components],
    packages: [...new Set(base.include)].sort(),
    keyringSha256,
    initramfsConfigSha256: installsKernel(base.include) ? guestInitramfsConfigSha256() : null,
  };
}

/** The content-relevant parameters of the bootstrap, from the same builders the installers use. */
function bootstrapParameters(request: InstallRequest): {
  suite: string;
  architecture: string | undefined;
  variant: string;
  mirrors: string[];
  components: string[];
  include: string[];
  keyring: string | undefined;
} {
  const pick = (o: {
    suite: string;
    architecture?: string | undefined;
    variant?: string | undefined;
    components: string[];
    include: string[];
    keyring?: string | undefined;
  }) => ({
    suite: o.suite,
    architecture: o.architecture,
    variant: o.variant ?? 'minbase',
    components: o.components,
    include: o.include,
    keyring: o.keyring,
  });
  if (request.install.method === 'mmdebstrap') {
    const options = mmdebstrapOptionsFor(request);
    return { ...pick(options), mirrors: options.mirrors };
  }
  const options = debootstrapOptionsFor(request);
  return { ...pick(options), mirrors: [options.mirror] };
}

/**
 * A version reader that remembers `PROGRAM --version` in `memoFile` (see tools/program-memo.ts):
 * mmdebstrap is a large Perl script that takes 0.1-0.3 s to start, a tenth of a warm create.
 */
export function memoizedVersionReader(memoFile: string, exec: ExecOptions = {}): InstallerVersionReader {
  return async (program) => {
    // A line printed by a --version that failed is used this once, not remembered.
    let unremembered = '';
    const version = await memoizedAnswer(memoFile, program, '', async () => {
      const result = await runCommand([program, '--version'], { ...exec, allowFailure: true });
      const line = (result.stdout.trim() || result.stderr.trim()).split('\n')[0] ?? '';
      if (result.exitCode === 0 && line) return line;
      unremembered = line;
      return undefined;
    });
    return version ?? (unremembered || `${program} (version unknown)`);
  };
}
