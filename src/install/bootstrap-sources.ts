/** What a bootstrapper needs from the distribution table: components, keyring, the package set. */
import path from 'node:path';
import { findDistribution } from '../config/distributions.js';
import type { InstallSpec } from '../model/guest-spec.js';

export interface BootstrapSources {
  suite: string;
  mirror: string;
  components: string[];
  keyring: string | undefined;
  /** Packages installed on top of the variant: base + extras (the kernel among them), in order, without repeats. */
  include: string[];
  /** False when the release is not in the table (bootstrapped anyway, with only what was asked). */
  isKnownRelease: boolean;
}

/** Joins package lists in order, dropping blanks and repeats. */
export function mergePackages(...lists: readonly (readonly string[])[]): string[] {
  const seen = new Set<string>();
  for (const list of lists) for (const name of list) if (name.trim()) seen.add(name.trim());
  return [...seen];
}

/**
 * The suite, mirror, components, keyring and `--include` list for `install`: the distribution's
 * basePackages, then the spec's extraPackages (which hold the kernel package the settings chose,
 * none when the guest boots a host kernel), then what the caller adds.
 */
export function resolveBootstrapSources(
  install: InstallSpec,
  packages: readonly string[] = [],
  withBasePackages = true,
): BootstrapSources {
  const dist = findDistribution(install.dist);
  const base = dist && withBasePackages ? dist.basePackages : [];
  return {
    suite: dist?.release ?? install.dist,
    mirror: install.mirror || dist?.mirror || '',
    components: dist?.components ?? ['main'],
    keyring: install.keyring ?? dist?.keyring,
    include: mergePackages(base, install.extraPackages, packages),
    isKnownRelease: dist !== undefined,
  };
}

/** Where `--cache` keeps .debs for one release and architecture: never inside the guest. */
export function packageCacheDir(install: InstallSpec): string {
  const suite = findDistribution(install.dist)?.release ?? install.dist;
  return path.join(install.cacheDir, 'debs', `${suite}_${install.arch}`);
}
