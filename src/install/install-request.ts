/** The request and result types of installing a root tree. */
import type { InstallMethod, InstallSpec } from '../model/guest-spec.js';
import type { MmdebstrapVariant } from '../tools/mmdebstrap.js';

/** What the planner asks for: fill `target` (an existing, empty directory it owns) from `install`. */
export interface InstallRequest {
  install: InstallSpec;
  /** The staging directory; the caller creates it and registers its removal. */
  target: string;
  /** Packages on top of the distribution's base packages and `install.extraPackages`. */
  packages: string[];
  /** The plan step whose progress lines this install reports (default `install.bootstrap`). */
  stepId?: string;
  /**
   * Whether to add the distribution's basePackages (default true); false
   * bootstraps only the variant plus `packages` and `install.extraPackages`.
   */
  withBasePackages?: boolean;
  /** mmdebstrap variant override (default: DEFAULT_MMDEBSTRAP_VARIANT). */
  variant?: MmdebstrapVariant;
}

/** What was installed. */
export interface InstallResult {
  method: InstallMethod;
  /** Packages dpkg records as installed (0 for a tree without dpkg). */
  packagesInstalled: number;
  /** Apparent size of the tree (hard links counted once). */
  treeBytes: number;
  /** The guest's newest kernel, as a path inside the guest (`/boot/vmlinuz-...`). */
  kernel?: string;
  /** Its initrd, as a path inside the guest. */
  initrd?: string;
  /** Guest paths sanitizeRootTree removed or emptied. */
  sanitized: string[];
  durationMs: number;
}
