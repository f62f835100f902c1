/**
 * The option table of `xen-create-image`: every option of xen-tools 4.9.2 (its GetOptions
 * list), the conf-only keys it reads, and xenkit's additions. Getopt, layering, `--help` and
 * `--dumpconfig` are all driven from here.
 */

/**
 * How an option takes its value, in Getopt::Long terms: `string` (`=s`), `int` (`=i`),
 * `optional` (`:s`), `flag` (no value), `negatable` (`!`: also `--noX`/`--no-X`), `list`
 * (`=s@`: repeatable, also space separated in a conf file).
 */
export type OptionKind = 'string' | 'int' | 'optional' | 'flag' | 'negatable' | 'list';

/** The sections of `--help`, in the manual's order. */
export type OptionGroup = 'help' | 'general' | 'install' | 'network' | 'storage' | 'xenkit';

export type SettingValue = string | string[] | boolean;

export interface OptionDef {
  /** The option as written on the command line, without dashes. */
  name: string;
  /** Other spellings that set the same key (xen-tools' deprecated `no-hosts`, `genpass-len`). */
  aliases?: string[];
  kind: OptionKind;
  /** Key in settings and in xen-tools.conf (xen-tools' %CONFIG key). */
  key: string;
  /** xenkit's built-in default, when it has one. */
  default?: SettingValue;
  group: OptionGroup;
  /** Placeholder for `--help`: `--size=SIZE`. */
  valueName?: string;
  help: string;
  /** Whether xen-tools.conf and --config files may set it (false for --help, --root, ...). */
  inConf?: boolean;
  /** Whether the command line may set it (false for conf-only keys like `ipfile`). */
  onCli?: boolean;
  /** Environment variable that sets it when the command line does not. */
  env?: string;
  /** Accepted, but gone: using it is an error with this hint. */
  obsolete?: string;
  /** Accepted and ignored, with this warning (xen-tools' own no-ops). */
  ignored?: string;
}

const o = (def: OptionDef): OptionDef => def;

/** Every option and conf key of `xen-create-image`, grouped as in xen-tools' manual. */
// A table reads best one row a line.
// prettier-ignore
export const CREATE_IMAGE_OPTIONS: readonly OptionDef[] = [
  // Help options
  o({ name: 'help', kind: 'flag', key: 'help', group: 'help', help: 'Show this help and exit.', inConf: false }),
  o({ name: 'manual', kind: 'flag', key: 'manual', group: 'help', help: 'Same as --help.', inConf: false }),
  o({ name: 'verbose', kind: 'negatable', key: 'verbose', default: false, group: 'help', help: '(Do not) show every command and its output on stderr as it runs (the log has them either way).' }),
  o({ name: 'dumpconfig', kind: 'flag', key: 'dumpconfig', group: 'help', help: 'Print the merged settings (xen-tools.conf syntax) and exit.', inConf: false }),
  o({ name: 'debug', kind: 'negatable', key: 'debug', default: false, group: 'help', help: 'Same as --dumpconfig (xen-tools printed its settings and stopped).' }),
  o({ name: 'version', kind: 'flag', key: 'version', group: 'help', help: 'Show the version and exit.', inConf: false }),

  // Size / general options
  o({ name: 'accounts', kind: 'negatable', key: 'accounts', default: false, group: 'general', help: "(Don't) copy the host's non-system accounts into the guest." }),
  o({ name: 'admins', kind: 'string', key: 'admins', group: 'general', valueName: 'USER,...', help: "Create these admin users in the guest (group sudo; cfg xen_shell = ...); xen-tools made them on dom0 for xen-shell." }),
  o({ name: 'boot', kind: 'negatable', key: 'boot', default: false, group: 'general', help: "(Don't) start the guest once it is built, as `xm create CFG` does; a guest that fails to start stays built (exit 1)." }),
  o({ name: 'cache', kind: 'string', key: 'cache', default: 'yes', group: 'general', valueName: 'yes|no', help: 'Keep downloaded packages on the host for the next guest.' }),
  o({ name: 'cachedir', kind: 'string', key: 'cachedir', group: 'general', valueName: 'DIR', help: 'Where downloaded packages are kept (default: /var/cache/xenkit/archives).' }),
  o({ name: 'config', kind: 'string', key: 'config', group: 'general', valueName: 'FILE', help: 'Read FILE (relative: in /etc/xen-tools) after xen-tools.conf, before the command line.' }),
  o({ name: 'copyhosts', aliases: ['copy-hosts'], kind: 'negatable', key: 'copyhosts', default: false, group: 'general', help: "(Don't) copy the host's /etc/hosts entries into the guest." }),
  o({ name: 'copy-cmd', kind: 'string', key: 'copy-cmd', group: 'general', valueName: 'CMD', help: 'Ignored (as in xen-tools).', ignored: '--copy-cmd is ignored, as in xen-tools' }),
  o({ name: 'debootstrap-cmd', kind: 'string', key: 'debootstrap-cmd', default: '', group: 'general', valueName: 'CMD', help: 'The debootstrap program to run (xen-tools: for --install-method=debootstrap); given without a method, it picks debootstrap.' }),
  o({ name: 'disk_device', kind: 'string', key: 'disk_device', default: 'xvda', group: 'general', valueName: 'DEV', help: 'Guest disk device name (xvda, sda, vda).' }),
  o({ name: 'dontformat', kind: 'flag', key: 'dontformat', default: false, group: 'general', help: 'Do not format the devices (they hold filesystems already).' }),
  o({ name: 'extension', kind: 'optional', key: 'extension', default: '.cfg', group: 'general', valueName: 'EXT', help: 'Suffix of the domain config file.' }),
  o({ name: 'force', kind: 'negatable', key: 'force', default: false, group: 'general', help: "(Don't) replace an existing guest of the same name." }),
  o({ name: 'fs', kind: 'string', key: 'fs', default: 'ext4', group: 'general', valueName: 'FS', help: 'Root filesystem: ext2, ext3, ext4, xfs or btrfs.' }),
  o({ name: 'genpass', kind: 'int', key: 'genpass', default: '1', group: 'general', valueName: '0|1', help: 'Generate a random root password (default 1).' }),
  o({ name: 'genpass_len', aliases: ['genpass-len'], kind: 'int', key: 'genpass_len', default: '20', group: 'general', valueName: 'N', help: 'Length of the generated password (default 20).' }),
  o({ name: 'hash_method', kind: 'string', key: 'hash_method', default: 'sha512', group: 'general', valueName: 'ALG', help: 'Password hash: sha512 (default), yescrypt, sha256 or md5.' }),
  o({ name: 'hooks', kind: 'int', key: 'hooks', default: '1', group: 'general', valueName: '0|1', help: 'Run the hooks of /etc/xen-tools/hooks.d (a hook named like a built-in step replaces it).' }),
  o({ name: 'ide', kind: 'flag', key: 'ide', default: false, group: 'general', help: 'Use IDE device names (hda).' }),
  o({ name: 'image', kind: 'string', key: 'image', default: 'sparse', group: 'general', valueName: 'sparse|full', help: 'Sparse or fully allocated image files.' }),
  o({ name: 'image-dev', kind: 'string', key: 'image-dev', group: 'storage', valueName: 'DEV', help: 'Use this block device for the root filesystem.' }),
  o({ name: 'initrd', kind: 'string', key: 'initrd', group: 'general', valueName: 'FILE', help: 'Boot the host initrd FILE (with --kernel).' }),
  o({ name: 'install', kind: 'int', key: 'install', default: '1', group: 'general', valueName: '0|1', help: 'Install a system into the image (0: only create the storage).' }),
  o({ name: 'keep', kind: 'negatable', key: 'keep', default: false, group: 'general', help: 'Refused: xenkit always removes what a failed build made (the log keeps the output). --nokeep is the default.' }),
  o({ name: 'keyring', kind: 'string', key: 'keyring', group: 'install', valueName: 'FILE', help: 'Keyring the bootstrap verifies the archive with.' }),
  o({ name: 'kernel', kind: 'string', key: 'kernel', group: 'general', valueName: 'FILE', help: "Boot this host kernel instead of the guest's own (not with --type=hvm, which boots its disk)." }),
  o({ name: 'memory', kind: 'string', key: 'memory', default: '256M', group: 'general', valueName: 'SIZE', help: 'Memory (a bare number is megabytes).' }),
  o({ name: 'maxmem', kind: 'string', key: 'maxmem', group: 'general', valueName: 'SIZE', help: 'Maximum memory for ballooning.' }),
  o({ name: 'modules', kind: 'string', key: 'modules', group: 'general', valueName: 'DIR', help: 'Kernel modules directory copied to /lib/modules in the guest (with --kernel only).' }),
  o({ name: 'nohosts', aliases: ['no-hosts'], kind: 'flag', key: 'nohosts', default: false, group: 'general', help: "Don't add `IP NAME` to the host's /etc/hosts (added for a static address; xen-delete-image removes it)." }),
  o({ name: 'noswap', kind: 'flag', key: 'noswap', default: false, group: 'general', help: 'No swap.' }),
  o({ name: 'output', kind: 'string', key: 'output', default: '/etc/xen', group: 'general', valueName: 'DIR', help: 'Directory of the domain config.' }),
  o({ name: 'partitions', kind: 'string', key: 'partitions', group: 'general', valueName: 'FILE', help: 'Partition layout file (xen-tools format, a bare name is looked up in partitionsdir): one image or volume per section, mounted at its mount point.' }),
  o({ name: 'password', kind: 'string', key: 'password', group: 'general', valueName: 'PW', help: 'Root password (visible in ps: prefer --password-file).' }),
  o({ name: 'passwd', kind: 'negatable', key: 'passwd', default: false, group: 'general', help: "(Don't) ask for the root password." }),
  o({ name: 'pygrub', kind: 'negatable', key: 'pygrub', group: 'general', help: "Boot the guest's own kernel (default); --nopygrub needs --kernel." }),
  o({ name: 'role', kind: 'string', key: 'role', group: 'general', valueName: 'ROLE,...', help: 'Role scripts to run after the built-in steps and hooks, with package lists in place.' }),
  o({ name: 'role-args', kind: 'string', key: 'role-args', group: 'general', valueName: 'ARGS', help: 'Arguments passed to every role script.' }),
  o({ name: 'finalrole', kind: 'string', key: 'finalrole', group: 'general', valueName: 'ROLE,...', help: 'Role scripts to run once the domain config is written (before the image is closed).' }),
  o({ name: 'roledir', kind: 'string', key: 'roledir', default: '/etc/xen-tools/role.d', group: 'general', valueName: 'DIR', help: 'Directory of role scripts.' }),
  o({ name: 'scsi', kind: 'flag', key: 'scsi', default: false, group: 'general', help: 'Use SCSI device names (sda).' }),
  o({ name: 'serial_device', kind: 'string', key: 'serial_device', default: 'hvc0', group: 'general', valueName: 'DEV', help: 'Console device that gets a getty.' }),
  o({ name: 'size', kind: 'string', key: 'size', default: '4G', group: 'general', valueName: 'SIZE', help: 'Root disk size (unit required: 4G, 512M).' }),
  o({ name: 'swap', kind: 'string', key: 'swap', default: '512M', group: 'general', valueName: 'SIZE', help: 'Swap size (0: none).' }),
  o({ name: 'swap-dev', kind: 'string', key: 'swap-dev', group: 'storage', valueName: 'DEV', help: 'Use this block device for swap (with --image-dev).' }),
  o({ name: 'tar-cmd', kind: 'string', key: 'tar-cmd', group: 'general', valueName: 'CMD', help: 'Ignored (as in xen-tools).', ignored: '--tar-cmd is ignored, as in xen-tools' }),
  o({ name: 'template', kind: 'string', key: 'template', group: 'general', valueName: 'FILE', help: 'Template for the domain config (relative: in /etc/xen-tools).' }),
  o({ name: 'vcpus', kind: 'int', key: 'vcpus', default: '1', group: 'general', valueName: 'N', help: 'Virtual CPUs.' }),
  o({ name: 'no-xen-ok', kind: 'flag', key: 'no-xen-ok', group: 'general', help: 'Ignored (deprecated in xen-tools).', inConf: false, ignored: '--no-xen-ok is deprecated and ignored' }),

  // Installation options
  o({ name: 'arch', kind: 'string', key: 'arch', group: 'install', valueName: 'ARCH', help: "Debian architecture (default: the host's)." }),
  o({ name: 'dist', kind: 'string', key: 'dist', group: 'install', valueName: 'RELEASE', help: "Release to install (default: the host's codename, else bookworm)." }),
  o({ name: 'install-method', kind: 'string', key: 'install-method', group: 'install', valueName: 'METHOD', help: 'mmdebstrap (default when installed), debootstrap, copy or tar.' }),
  o({ name: 'install-source', kind: 'string', key: 'install-source', group: 'install', valueName: 'PATH', help: 'Directory (copy) or tarball (tar) to install from.' }),
  o({ name: 'kernel-package', kind: 'string', key: 'kernel-package', group: 'install', valueName: 'PACKAGE', help: "Kernel package the guest boots (default: the release's flavour for virtual machines, linux-image-cloud-amd64 on Debian amd64 and linux-image-virtual on Ubuntu; linux-image-amd64 for --type=hvm, which also drives emulated hardware: e1000, AHCI CD-ROM, USB, graphics)." }),
  o({ name: 'mirror', kind: 'string', key: 'mirror', default: '', group: 'install', valueName: 'URL', help: 'Archive mirror (default: mirror_<dist>, else the release default).' }),
  o({ name: 'apt_proxy', kind: 'string', key: 'apt_proxy', default: '', group: 'install', valueName: 'URL', help: 'HTTP proxy for the bootstrap and the guest.' }),

  // Networking options
  o({ name: 'bridge', kind: 'string', key: 'bridge', group: 'network', valueName: 'BR', help: 'Bridge of the guest interface.' }),
  o({ name: 'broadcast', kind: 'string', key: 'broadcast', group: 'network', valueName: 'IP', help: 'Broadcast address (checked against --ip/--netmask).' }),
  o({ name: 'dhcp', kind: 'negatable', key: 'dhcp', group: 'network', help: '(Do not) configure the network by DHCP.' }),
  o({ name: 'gateway', kind: 'string', key: 'gateway', group: 'network', valueName: 'IP', help: 'Default gateway (inside the network of the first --ip).' }),
  o({ name: 'hostname', kind: 'string', key: 'hostname', group: 'network', valueName: 'NAME', help: 'Name of the guest (required).' }),
  o({ name: 'ip', kind: 'list', key: 'ip', group: 'network', valueName: 'IP[/N]|auto', help: 'Static address; repeat for more; auto takes one from ips.txt.' }),
  o({ name: 'mac', kind: 'string', key: 'mac', group: 'network', valueName: 'MAC', help: 'MAC of the interface (default: derived as xen-tools does).' }),
  o({ name: 'randommac', kind: 'flag', key: 'randommac', default: false, group: 'network', help: 'Use a random MAC.' }),
  o({ name: 'netmask', kind: 'string', key: 'netmask', group: 'network', valueName: 'MASK', help: 'Netmask of the static address (255.255.255.0 or 24).' }),
  o({ name: 'nameserver', kind: 'list', key: 'nameserver', group: 'network', valueName: 'IP ...', help: 'DNS servers; repeat or separate by spaces.' }),
  o({ name: 'vifname', kind: 'string', key: 'vifname', group: 'network', valueName: 'NAME', help: 'Name of the host-side interface.' }),
  o({ name: 'p2p', kind: 'string', key: 'p2p', group: 'network', valueName: 'IP', help: 'Point-to-point peer address.' }),
  o({ name: 'vlan', kind: 'string', key: 'vlan', group: 'network', valueName: 'N', help: 'VLAN tag (1-4094) with --bridge: the vif gets bridge=BRIDGE.N,script=vif-openvswitch (xl only).' }),

  // Storage ("mandatory" in the manual: one of them)
  o({ name: 'dir', kind: 'string', key: 'dir', group: 'storage', valueName: 'DIR', help: 'Image files go to DIR/domains/NAME/.' }),
  o({ name: 'lvm', kind: 'string', key: 'lvm', group: 'storage', valueName: 'VG', help: 'Logical volumes in volume group VG.' }),
  o({ name: 'lvm_thin', kind: 'string', key: 'lvm_thin', group: 'storage', valueName: 'POOL', help: 'Thin pool for the volumes (with --lvm).' }),
  o({ name: 'evms', kind: 'string', key: 'evms', group: 'storage', valueName: 'CONTAINER', help: 'Gone (EVMS died in 2008).', obsolete: 'EVMS is gone from Linux since 2008: use --lvm=VG or --dir=DIR' }),
  o({ name: 'zpool', kind: 'string', key: 'zpool', group: 'storage', valueName: 'POOL', help: 'Not supported by xenkit.', obsolete: 'ZFS volumes are not supported by xenkit: use --lvm=VG, --dir=DIR or --image-dev=/dev/zvol/POOL/NAME' }),

  // Conf-only keys of xen-tools
  o({ name: 'ipfile', kind: 'string', key: 'ipfile', default: '/etc/xen-tools/ips.txt', group: 'network', help: 'Address pool for --ip=auto.', onCli: false }),
  o({ name: 'partitionsdir', kind: 'string', key: 'partitionsdir', default: '/etc/xen-tools/partitions.d', group: 'general', help: 'Directory of partition layouts.', onCli: false }),

  // xenkit's own
  o({ name: 'dry-run', kind: 'flag', key: 'dry-run', default: false, group: 'xenkit', help: 'Print the plan and stop.', inConf: false }),
  o({ name: 'json', kind: 'flag', key: 'json', default: false, group: 'xenkit', help: 'Machine-readable output.', inConf: false }),
  o({ name: 'quiet', kind: 'flag', key: 'quiet', default: false, group: 'xenkit', help: 'Print only errors and the summary.', inConf: false }),
  o({ name: 'root', kind: 'string', key: 'root', group: 'xenkit', valueName: 'DIR', env: 'XENKIT_ROOT', help: 'Put every path under DIR (env XENKIT_ROOT).', inConf: false }),
  o({ name: 'conf-file', kind: 'string', key: 'conf-file', group: 'xenkit', valueName: 'FILE', env: 'XENKIT_CONF', help: 'Read FILE instead of /etc/xen-tools/xen-tools.conf (env XENKIT_CONF).', inConf: false }),
  o({ name: 'password-file', kind: 'string', key: 'password-file', group: 'xenkit', valueName: 'FILE', help: 'Read the root password from the first line of FILE.' }),
  o({ name: 'password-stdin', kind: 'flag', key: 'password-stdin', default: false, group: 'xenkit', help: 'Read the root password from standard input.', inConf: false }),
  o({ name: 'type', kind: 'string', key: 'type', default: 'pv', group: 'xenkit', valueName: 'pv|pvh|hvm', help: "Guest type (default pv, booting its own kernel). hvm: a whole-disk image (MBR, the root filesystem in partition 1, extlinux) that the firmware boots under Xen (qemu-system-xen in dom0) and QEMU; the guest's own kernel, so kernel updates inside it work; image files with an ext2/3/4 root only." }),
  o({ name: 'image-format', kind: 'string', key: 'image-format', default: 'raw', group: 'xenkit', valueName: 'raw|qcow2', help: 'Format of image files (with --dir).' }),
  o({ name: 'ssh-key', kind: 'list', key: 'ssh-key', group: 'xenkit', valueName: 'FILE', help: "Public key file for root's authorized_keys; repeatable." }),
  o({ name: 'no-cache', kind: 'flag', key: 'no-cache', default: false, group: 'xenkit', help: "Don't use the root-tree cache: bootstrap from the archive (--cache still keeps .debs)." }),
  o({ name: 'refresh-cache', kind: 'flag', key: 'refresh-cache', default: false, group: 'xenkit', help: 'Bootstrap anew and replace the root-tree cache entry.' }),
  o({ name: 'host', kind: 'string', key: 'host', group: 'xenkit', valueName: 'NAME', help: 'Build here, upload the images into a storage pool of the libvirt host NAME (xenkit hosts) and define the guest there.', inConf: false }),
  o({ name: 'pool', kind: 'string', key: 'pool', default: 'default', group: 'xenkit', valueName: 'POOL', help: 'Storage pool of the --host that receives the images.' }),
  o({ name: 'staging', kind: 'string', key: 'staging', default: 'auto', group: 'xenkit', valueName: 'auto|memory|disk', help: 'Where the root tree is built before mkfs copies it into the image: a tmpfs for this run (memory), beside the images (disk), or memory when a package install fits into half the available memory (auto).' }),
  o({ name: 'maxvcpus', kind: 'int', key: 'maxvcpus', group: 'xenkit', valueName: 'N', help: 'Most virtual CPUs the guest may be given later (vcpu-set).' }),
];

const BY_NAME = new Map<string, OptionDef>();
const BY_KEY = new Map<string, OptionDef>();
for (const def of CREATE_IMAGE_OPTIONS) {
  BY_KEY.set(def.key, def);
  for (const name of [def.name, ...(def.aliases ?? [])]) BY_NAME.set(name, def);
}

/** The option spelled `name` (or an alias of it), without dashes. */
export function findOption(name: string): OptionDef | undefined {
  return BY_NAME.get(name);
}

/** The option whose settings key is `key`. */
export function findOptionByKey(key: string): OptionDef | undefined {
  return BY_KEY.get(key);
}

/** Filesystems xenkit formats, and the per-filesystem defaults xen-tools had. */
export const FILESYSTEMS = ['ext2', 'ext3', 'ext4', 'xfs', 'btrfs'] as const;

const FS_DEFAULT_OPTIONS: Record<string, string> = {
  ext2: 'noatime,nodiratime,errors=remount-ro',
  ext3: 'noatime,nodiratime,errors=remount-ro',
  ext4: 'noatime,nodiratime,errors=remount-ro',
  xfs: 'defaults',
  btrfs: 'defaults',
};
const FS_MKFS: Record<string, string> = {
  ext2: 'mkfs.ext2 -F',
  ext3: 'mkfs.ext3 -F',
  ext4: 'mkfs.ext4 -F',
  xfs: 'mkfs.xfs -f',
  btrfs: 'mkfs.btrfs -f',
};

/** Built-in per-filesystem settings: `<fs>_options`, `make_fs_<fs>`, `mount_fs_<fs>`. */
export function filesystemDefaults(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const fs of FILESYSTEMS) {
    out[`${fs}_options`] = FS_DEFAULT_OPTIONS[fs] ?? 'defaults';
    out[`make_fs_${fs}`] = FS_MKFS[fs] ?? `mkfs.${fs}`;
    out[`mount_fs_${fs}`] = `-t ${fs}`;
  }
  return out;
}

/**
 * Conf keys that are families rather than options: per-release `mirror_<dist>` and
 * `keyring_<dist>`, per-filesystem `<fs>_options`, `make_fs_<fs>`, `mount_fs_<fs>`.
 * xen-tools keeps them as they are, and so does xenkit.
 */
export function isPatternKey(key: string): boolean {
  return (
    /^(mirror|keyring)_[a-z0-9.-]+$/.test(key) ||
    /^([a-z0-9]+_options|make_fs_[a-z0-9]+|mount_fs_[a-z0-9]+)$/.test(key)
  );
}
