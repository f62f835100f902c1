/**
 * GuestSpec: the validated, fully defaulted description of a guest to build. Produced by
 * `src/config/` from defaults, xen-tools.conf, `--config` and the command line; consumed by
 * the planner. Sizes are bytes; paths are absolute and already placed under the xenkit root.
 */

export type FsType = 'ext2' | 'ext3' | 'ext4' | 'xfs' | 'btrfs';
export type InstallMethod = 'debootstrap' | 'mmdebstrap' | 'copy' | 'tar' | 'none';
export type GuestType = 'pv' | 'pvh' | 'hvm';
export type HashMethod = 'sha512' | 'sha256' | 'yescrypt' | 'md5';
export type ImageFormat = 'raw' | 'qcow2';

export type StorageSpec =
  | {
      kind: 'file';
      /** `--dir`: images go to `DIR/domains/NAME/`. */
      dir: string;
      /** `DIR/domains/NAME`. */
      guestDir: string;
      /** sparse or full (`--image`). */
      allocation: 'sparse' | 'full';
      format: ImageFormat;
    }
  | { kind: 'lvm'; vg: string; thinPool: string | undefined }
  | { kind: 'device'; imageDev: string; swapDev: string | undefined };

export interface DiskSpec {
  /** Bytes. */
  size: number;
  fs: FsType;
  /** Mount options for fstab (`<fs>_options`). */
  mountOptions: string;
  /** `make_fs_<fs>` override: the mkfs command line from the conf, split into argv. */
  mkfsCommand: string[] | undefined;
  /** `--dontformat`: the device is formatted already. */
  format: boolean;
  /** Guest device name of the root disk (`xvda2` in xen-tools' layout, `--disk_device`). */
  device: string;
  /** `--partitions`: the layout's section for "/", naming its image (`NAME.img`) or volume; else `disk`. */
  name?: string;
}

export interface SwapSpec {
  /** Bytes. */
  size: number;
  device: string;
  /** `--partitions`: the layout's swap section, naming its image or volume; else `swap`. */
  name?: string;
}

/** A filesystem of a `--partitions` layout other than "/", mounted at its own point. */
export interface VolumeSpec {
  /** The layout's section: the image is `NAME.img`, the logical volume `HOSTNAME-NAME`. */
  name: string;
  /** Bytes. */
  size: number;
  fs: FsType;
  /** Absolute, normalized (`/home`, `/var/tmp`). */
  mountpoint: string;
  /** Mount options for fstab (the layout's `options`, `defaults` when empty). */
  mountOptions: string;
  /** `make_fs_<fs>` from the conf, split into argv. */
  mkfsCommand: string[] | undefined;
  /** Guest device name (`xvda3`: numbered as xen-tools numbers its partitions). */
  device: string;
}

export interface StaticAddress {
  /** IPv4 or IPv6 address. */
  address: string;
  /** Prefix length (24 for 255.255.255.0). */
  prefix: number;
  /**
   * `--ip=auto`: the ips file it was picked from. Validation only looks; the run claims an address
   * under the pool's lock and puts the one it got here, before anything writes it.
   */
  pool?: string;
}

export interface NetworkSpec {
  /** The guest's MAC (xen-tools style 00:16:3e:..., `--mac` or `--randommac`). */
  mac: string;
  /** How the MAC was chosen, for the summary and the plan. */
  macSource: 'derived' | 'given' | 'random';
  mode: 'dhcp' | 'static' | 'none';
  /** Static addresses; the first is the primary one. */
  addresses: StaticAddress[];
  gateway: string | undefined;
  broadcast: string | undefined;
  /** Point-to-point peer (`--p2p`). */
  p2p: string | undefined;
  nameservers: string[];
  bridge: string | undefined;
  vifname: string | undefined;
  vlan: number | undefined;
  /** Whether `--ip=auto` chose the address from the ips file. */
  autoIp: boolean;
}

export type PasswordSource =
  | { kind: 'generate'; length: number }
  | { kind: 'prompt' }
  | { kind: 'file'; path: string }
  | { kind: 'stdin' }
  /** `--password=VALUE`: kept for xen-tools compatibility; visible in `ps` to other users. */
  | { kind: 'value'; value: string }
  | { kind: 'none' };

export interface AccountsSpec {
  rootPassword: PasswordSource;
  hashMethod: HashMethod;
  /** `--accounts`: copy the host's non-system accounts into the guest. */
  copyAccounts: boolean;
  /** `--admins`: comma separated admin users (xen-shell). */
  admins: string[];
  /** Public keys for root's authorized_keys. */
  sshAuthorizedKeys: string[];
}

export interface InstallSpec {
  method: InstallMethod;
  /** Directory (copy) or tarball (tar). */
  source: string | undefined;
  dist: string;
  arch: string;
  mirror: string;
  /** Security mirror (Debian) where the release has one. */
  securityMirror: string | undefined;
  keyring: string | undefined;
  aptProxy: string | undefined;
  /** Reuse downloaded packages (`--cache`). */
  cache: boolean;
  cacheDir: string;
  /** `--debootstrap-cmd`. */
  debootstrapCommand: string | undefined;
  /** Extra packages installed on top of the base (kernel, ssh server, ...). */
  extraPackages: string[];
  /** `--install=0` skips installation entirely. */
  enabled: boolean;
  /**
   * The root-tree cache (xenkit's own; `--cache` stays the .deb cache): `use` (default), `off`
   * (`--no-cache`) or `refresh` (`--refresh-cache`). Absent means off.
   */
  rootfsCache?: 'use' | 'off' | 'refresh';
  /** `--staging`: where the tree is built before mkfs copies it (absent: auto). */
  staging?: 'auto' | 'memory' | 'disk';
}

export interface BootSpec {
  type: GuestType;
  /** Boot the guest's own kernel (pygrub/PVH style). When false, `kernel`/`initrd` are used. */
  useGuestKernel: boolean;
  kernel: string | undefined;
  initrd: string | undefined;
  modules: string | undefined;
  /** `root=` device for the kernel command line. */
  rootDevice: string;
  extra: string | undefined;
  serialDevice: string;
}

export interface HookSpec {
  /** Run hook directories at all (`--hooks`). */
  enabled: boolean;
  /** Directories of executables, run in name order (built-in first, then the user's). */
  dirs: string[];
  roles: string[];
  finalRoles: string[];
  roleArgs: string | undefined;
  roleDir: string;
  /** `/etc/xen-tools/skel` when it exists: copied into every guest. */
  skelDir?: string;
}

export interface OutputSpec {
  /** Directory of domain configs (`/etc/xen`, `--output`). */
  dir: string;
  /** Suffix of the domain config (`.cfg`, `--extension`). */
  extension: string;
  /** Full path of the domain config. */
  cfgPath: string;
  /** `--template`: a user template replacing the built-in cfg renderer. */
  template: string | undefined;
  /** The creation log. */
  logPath: string;
}

export interface GuestSpec {
  /** Short name of the guest: the first label of the hostname. */
  name: string;
  /** As given: may be fully qualified. */
  hostname: string;
  /** Domain part of a fully qualified hostname, if any. */
  domain: string | undefined;
  memory: number;
  maxmem: number | undefined;
  vcpus: number;
  maxvcpus: number | undefined;
  storage: StorageSpec;
  disk: DiskSpec;
  swap: SwapSpec | undefined;
  /** `--partitions`: the layout's further swap sections after `swap`, in partition order; absent without. */
  extraSwaps?: SwapSpec[];
  /** `--partitions`: the layout's other filesystems, parents before children; absent or empty without. */
  volumes?: VolumeSpec[];
  network: NetworkSpec;
  accounts: AccountsSpec;
  install: InstallSpec;
  boot: BootSpec;
  hooks: HookSpec;
  output: OutputSpec;
  /** Boot the guest when created (`--boot`). */
  startAfter: boolean;
  /** Replace an existing (stopped) guest of the same name. */
  force: boolean;
  /** Keep the images when installation fails (`--keep`). */
  keep: boolean;
  /** Copy the host's /etc/hosts entries into the guest (`--copyhosts`). */
  copyHosts: boolean;
  /** Add the guest to the host's /etc/hosts (xen-tools does unless `--nohosts`). */
  updateHostHosts: boolean;
}
