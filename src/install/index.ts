/** The install module's public surface: fill a staging directory with a guest root tree. */
export {
  installRootTree,
  describeInstall,
  defaultBootstrapMethod,
  effectiveMethod,
} from './install-root-tree.js';
export type { InstallRequest, InstallResult } from './install-request.js';
export { sanitizeRootTree, describeSanitize } from './sanitize.js';
export { releaseTarget, guardTarget, listMountsUnder, listProcessesInTree } from './target-guard.js';
export { findGuestKernel, countInstalledPackages, measureTreeBytes } from './tree-facts.js';
export { resolveBootstrapSources, packageCacheDir } from './bootstrap-sources.js';
export { DEFAULT_MMDEBSTRAP_VARIANT } from './mmdebstrap-install.js';
export { removeTree } from './remove-tree.js';
