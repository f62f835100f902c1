/**
 * The distribution table: everything release-specific, as data keyed by release codename, so a
 * new release is a data change. Ubuntu rows are kept right even though this machine cannot reach
 * the Ubuntu archive.
 */

export type DistFamily = 'debian' | 'ubuntu';

/** How the guest's network is configured: systemd-networkd matches the NIC by MAC on every family. */
export type NetworkWriter = 'networkd' | 'netplan';

export interface Distribution {
  release: string;
  family: DistFamily;
  /** Numeric version ('12', '24.04'); sid has none. */
  version: string | undefined;
  /** Default mirror for the main archive. */
  mirror: string;
  /** Security archive and its suite name, or undefined where the release has none (sid). */
  security: { mirror: string; suite: string } | undefined;
  /** Suites besides the release itself that apt should use (updates). */
  updatesSuite: string | undefined;
  components: string[];
  /** Keyring debootstrap/mmdebstrap verify with. */
  keyring: string;
  /** apt sources format: one-line `.list` or deb822 `.sources`. */
  sourcesFormat: 'list' | 'deb822';
  networkWriter: NetworkWriter;
  /** The kernel metapackage a guest gets on amd64 (guestKernelPackage gives it per architecture). */
  kernelPackage: string;
  /** Packages every guest gets on top of the base system so it boots and can be reached. */
  basePackages: string[];
  /** Releases past their end of life: allowed, with a warning (archive mirror for Debian). */
  isEol: boolean;
  /** Whether usrmerge is done (matters for paths like /usr/lib/systemd vs /lib/systemd). */
  isUsrMerged: boolean;
  /**
   * Whether the archive has `usr-is-merged` (Debian 12 and later, Ubuntu 24.04): a bootstrap can
   * then make /usr merged with symlinks, as debootstrap does, instead of installing usrmerge (which
   * pulls in perl and converts a tree that is already merged).
   */
  hasUsrIsMerged: boolean;
}

const DEBIAN_MIRROR = 'http://deb.debian.org/debian';
const DEBIAN_SECURITY = 'http://deb.debian.org/debian-security';
const DEBIAN_ARCHIVE = 'http://archive.debian.org/debian';
const UBUNTU_MIRROR = 'http://archive.ubuntu.com/ubuntu';
const UBUNTU_SECURITY = 'http://security.ubuntu.com/ubuntu';
const DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
const UBUNTU_KEYRING = '/usr/share/keyrings/ubuntu-archive-keyring.gpg';

/**
 * Installed in every guest on top of the bootstrap variant. `dbus` is what lets systemd-logind
 * start (its unit is conditional on a D-Bus service), and logind is what turns the ACPI power
 * button (QEMU's `system_powerdown`, `xl shutdown` of an HVM guest) into a clean poweroff.
 * `zstd` is the compressor initramfs-tools is configured for (without it, it falls back to
 * single-threaded gzip: 3.5 s instead of 2.8 s per generation, a larger initramfs).
 */
const GUEST_PACKAGES = [
  'systemd-sysv',
  'udev',
  'dbus',
  'openssh-server',
  'iproute2',
  'ca-certificates',
  'less',
  'zstd',
];

function debian(
  release: string,
  version: string | undefined,
  extra: Partial<Distribution> = {},
): Distribution {
  return {
    release,
    family: 'debian',
    version,
    mirror: DEBIAN_MIRROR,
    security: { mirror: DEBIAN_SECURITY, suite: `${release}-security` },
    updatesSuite: `${release}-updates`,
    components: ['main'],
    keyring: DEBIAN_KEYRING,
    sourcesFormat: 'list',
    networkWriter: 'networkd',
    kernelPackage: 'linux-image-cloud-amd64',
    basePackages: GUEST_PACKAGES,
    isEol: false,
    isUsrMerged: true,
    hasUsrIsMerged: true,
    ...extra,
  };
}

function ubuntu(release: string, version: string, extra: Partial<Distribution> = {}): Distribution {
  return {
    release,
    family: 'ubuntu',
    version,
    mirror: UBUNTU_MIRROR,
    security: { mirror: UBUNTU_SECURITY, suite: `${release}-security` },
    updatesSuite: `${release}-updates`,
    components: ['main', 'universe'],
    keyring: UBUNTU_KEYRING,
    sourcesFormat: 'list',
    networkWriter: 'netplan',
    kernelPackage: 'linux-image-virtual',
    basePackages: GUEST_PACKAGES,
    isEol: false,
    isUsrMerged: true,
    hasUsrIsMerged: false,
    ...extra,
  };
}

/** Every release xenkit knows, newest Debian first. */
export const DISTRIBUTIONS: readonly Distribution[] = [
  debian('sid', undefined, { security: undefined, updatesSuite: undefined, sourcesFormat: 'deb822' }),
  debian('forky', undefined, { sourcesFormat: 'deb822', components: ['main', 'non-free-firmware'] }),
  debian('trixie', '13', { sourcesFormat: 'deb822', components: ['main', 'non-free-firmware'] }),
  debian('bookworm', '12', { components: ['main', 'non-free-firmware'] }),
  debian('bullseye', '11', { hasUsrIsMerged: false }),
  // buster left LTS in mid-2024: its packages now live on the archive mirror only.
  debian('buster', '10', {
    mirror: DEBIAN_ARCHIVE,
    security: { mirror: 'http://archive.debian.org/debian-security', suite: 'buster/updates' },
    isEol: true,
    isUsrMerged: false,
    hasUsrIsMerged: false,
  }),
  ubuntu('noble', '24.04', { sourcesFormat: 'deb822', hasUsrIsMerged: true }),
  ubuntu('jammy', '22.04'),
  ubuntu('focal', '20.04', { isUsrMerged: false }),
];

/** Aliases Debian users type: suite names map to codenames (as of trixie's release). */
const ALIASES: Record<string, string> = {
  unstable: 'sid',
  testing: 'forky',
  stable: 'trixie',
  oldstable: 'bookworm',
  oldoldstable: 'bullseye',
};

/** Looks a release up by codename or suite alias; undefined when unknown. */
export function findDistribution(release: string): Distribution | undefined {
  const name = ALIASES[release.toLowerCase()] ?? release.toLowerCase();
  return DISTRIBUTIONS.find((d) => d.release === name);
}

/** Codenames, for hints in error messages. */
export function knownReleases(): string[] {
  return DISTRIBUTIONS.map((d) => d.release);
}

/**
 * Debian's kernel metapackage per architecture for a virtual machine: the cloud flavour where
 * Debian has one (amd64, arm64). It has the Xen, KVM and virtio drivers, ext4 built in and an LZ4
 * image, and leaves out drivers for physical and emulated hardware (e1000, AHCI, USB, DRM): a
 * quarter of the generic kernel's size (105 MB installed instead of 400). `--kernel-package`
 * picks another, e.g. linux-image-amd64 for a guest on emulated hardware.
 */
const DEBIAN_KERNELS: Readonly<Record<string, string>> = {
  amd64: 'linux-image-cloud-amd64',
  arm64: 'linux-image-cloud-arm64',
  // The 64-bit kernel of Debian's i386 port: Xen runs no 32-bit PV kernels by default.
  i386: 'linux-image-amd64',
  armhf: 'linux-image-armmp-lpae',
  armel: 'linux-image-marvell',
  ppc64el: 'linux-image-powerpc64le',
  s390x: 'linux-image-s390x',
  riscv64: 'linux-image-riscv64',
  mips64el: 'linux-image-5kc-malta',
};

/**
 * The kernel package a guest of `dist` on `arch` gets unless told otherwise; an HVM guest
 * (`hvm`: emulated firmware, disks and NICs) gets Debian's generic kernel, which drives them.
 */
export function guestKernelPackage(dist: Distribution, arch: string, hvm = false): string {
  if (dist.family === 'ubuntu') return dist.kernelPackage;
  if (hvm && (arch === 'amd64' || arch === 'arm64')) return `linux-image-${arch}`;
  return DEBIAN_KERNELS[arch] ?? dist.kernelPackage;
}
