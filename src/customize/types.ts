/** Shared types of the guest customization: what the planner hands in and what comes back. */
import type { Distribution } from '../config/distributions.js';
import type { GuestIds } from '../model/guest-ids.js';
import type { GuestSpec } from '../model/guest-spec.js';
import type { PlanAction, StepContext } from '../plan/plan.js';
import type { TreeEditor } from './tree-editor.js';

export type { GuestIds } from '../model/guest-ids.js';

export interface SshHostKey {
  type: string;
  bits: number;
  /** `SHA256:...` as `ssh-keygen -l` prints it. */
  fingerprint: string;
}

export interface CustomizeResult {
  sshHostKeys: SshHostKey[];
  /** What hooks and roles did that xen-tools let pass silently (failed commands in the guest). */
  warnings: string[];
}

/** Host files some steps copy from; injectable so tests use fakes. */
export interface HostFiles {
  hosts: string;
  resolvConf: string;
  passwd: string;
  shadow: string;
  group: string;
}

/** The host's real files. */
export const HOST_FILES: HostFiles = {
  hosts: '/etc/hosts',
  resolvConf: '/etc/resolv.conf',
  passwd: '/etc/passwd',
  shadow: '/etc/shadow',
  group: '/etc/group',
};

/** Everything a built-in customization step works with. */
export interface CustomizeContext {
  root: string;
  spec: GuestSpec;
  ids: GuestIds;
  dist: Distribution;
  editor: TreeEditor;
  step: StepContext;
  host: HostFiles;
  /** Use `systemctl --root` to enable units when the host has it (else symlinks are made directly). */
  useSystemctl: boolean;
  result: CustomizeResult;
}

/**
 * The part of a GuestSpec the identity steps read (hostname, network, SSH host keys, machine-id,
 * random seed). A clone has no full spec of its own, only this.
 */
export type IdentitySpec = Pick<GuestSpec, 'name' | 'domain' | 'network' | 'copyHosts'>;

/** What the identity steps work with: a CustomizeContext without the filesystem ids, for an IdentitySpec. */
export type IdentityContext = Omit<CustomizeContext, 'spec' | 'ids'> & { spec: IdentitySpec };

/** The ids of the built-in steps; a user hook named `ID` or `NN-ID` replaces the step. */
export type BuiltinStepId =
  | 'apt'
  | 'hostname'
  | 'network'
  | 'fstab'
  | 'boot-menu'
  | 'modules'
  | 'console'
  | 'cpu-hotplug'
  | 'boot-trim'
  | 'password'
  | 'accounts'
  | 'skel'
  | 'ssh-host-keys'
  | 'machine-id'
  | 'random-seed';

/** One built-in step: what it will do (pure) and doing it. */
export interface BuiltinStep {
  id: BuiltinStepId;
  title: string;
  describe: (spec: GuestSpec, dist: Distribution, ids: GuestIds | undefined) => PlanAction[];
  apply: (c: CustomizeContext) => Promise<void>;
}
