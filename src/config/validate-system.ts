/** Validation of what goes into the guest: installation, boot, accounts and hooks. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { AccountsSpec, BootSpec, HookSpec, InstallSpec, PasswordSource } from '../model/guest-spec.js';
import { guestKernelPackage, type Distribution } from './distributions.js';
import type { SettingsReader } from './settings-reader.js';
import { isSameLayer } from './settings.js';

const URL_RE = /^(https?|ftp|file):\/\/[^\s]+$/i;
const USER_RE = /^[a-z_][a-z0-9_-]{0,31}$/;
/** A Debian package name (policy 5.6.1). */
const PACKAGE_RE = /^[a-z0-9][a-z0-9+.-]+$/;
const OBSOLETE_METHODS: Record<string, string> = {
  rinse:
    'rinse (CentOS/Fedora) is not supported: xenkit installs Debian and Ubuntu; use --install-method=mmdebstrap',
  rpmstrap: 'rpmstrap is long dead: use --install-method=mmdebstrap or debootstrap',
  cdebootstrap: 'cdebootstrap left Debian: use --install-method=mmdebstrap (or --debootstrap-cmd)',
};

/**
 * Validates install settings; `dist` is the release already looked up. An HVM guest boots on
 * emulated hardware (firmware, IDE or AHCI disks, emulated NICs) and gets the generic kernel,
 * which has their drivers; other guests get the release's kernel for virtual machines.
 */
export function validateInstall(
  r: SettingsReader,
  dist: Distribution | undefined,
  useGuestKernel: boolean,
  isHvm: boolean,
): InstallSpec | undefined {
  const before = r.errors.errors.length;
  const rawMethod = r.string('install-method')?.toLowerCase();
  let method: InstallSpec['method'] | undefined;
  if (rawMethod !== undefined && OBSOLETE_METHODS[rawMethod]) {
    r.fail('install-method', 'E_OBSOLETE', 'is no longer supported', OBSOLETE_METHODS[rawMethod] ?? '');
  } else {
    method = r.oneOf('install-method', ['mmdebstrap', 'debootstrap', 'copy', 'tar'] as const);
  }
  // --debootstrap-cmd names the program of the debootstrap method, as in xen-tools. xenkit's own
  // default method is mmdebstrap; a debootstrap command asked for where no method was chosen
  // means debootstrap, and with another method chosen it has nothing to run.
  if (r.string('debootstrap-cmd') !== undefined && method !== undefined && method !== 'debootstrap') {
    if (r.get('install-method')?.origin.kind === 'default') method = 'debootstrap';
    else
      r.errors.add(
        'E_CONFLICT',
        `${r.what('debootstrap-cmd')} and ${r.what('install-method')} "${method}" both given: only the debootstrap method runs that command`,
        '--install-method=debootstrap runs it; otherwise drop --debootstrap-cmd',
      );
  }
  let source: string | undefined;
  if (method === 'copy' || method === 'tar') {
    if (r.string('install-source') === undefined) {
      r.errors.add(
        'E_INSTALL_SOURCE',
        `${r.what('install-method')} "${method}" needs --install-source`,
        method === 'copy'
          ? 'add --install-source=/path/to/a/root/tree'
          : 'add --install-source=/path/to/image.tar',
      );
    } else {
      source = r.path('install-source', method === 'copy' ? 'dir' : 'file');
    }
  } else if (r.string('install-source') !== undefined) {
    r.warnings.push(`${r.what('install-source')} is ignored with install method ${method ?? rawMethod}`);
  }
  const arch = r.oneOf('arch', [
    'amd64',
    'arm64',
    'i386',
    'armhf',
    'armel',
    'ppc64el',
    's390x',
    'riscv64',
    'mips64el',
  ] as const);
  const release = dist?.release ?? '';
  const mirrorKey =
    r.string('mirror') !== undefined
      ? 'mirror'
      : r.string(`mirror_${release}`) !== undefined
        ? `mirror_${release}`
        : undefined;
  const mirror = mirrorKey ? r.string(mirrorKey) : dist?.mirror;
  if (mirrorKey && mirror && !URL_RE.test(mirror)) {
    r.fail(mirrorKey, 'E_URL', 'is not a URL', 'write it with its scheme, e.g. http://deb.debian.org/debian');
  }
  const keyringKey =
    r.string('keyring') !== undefined
      ? 'keyring'
      : r.string(`keyring_${release}`) !== undefined
        ? `keyring_${release}`
        : undefined;
  const keyring = keyringKey ? r.path(keyringKey, 'file') : dist?.keyring;
  const aptProxy = r.string('apt_proxy');
  if (aptProxy !== undefined && !/^(https?|socks5h?):\/\/\S+$/i.test(aptProxy)) {
    r.fail('apt_proxy', 'E_URL', 'is not a proxy URL', 'write it like http://proxy.example.org:3142/');
  }
  const kernelPackage = r.string('kernel-package');
  if (kernelPackage !== undefined && !PACKAGE_RE.test(kernelPackage)) {
    r.fail(
      'kernel-package',
      'E_PACKAGE',
      'is not a Debian package name',
      'e.g. linux-image-amd64 or linux-image-cloud-amd64',
    );
  } else if (kernelPackage !== undefined && !useGuestKernel) {
    r.warnings.push(`${r.what('kernel-package')} is ignored: the guest boots the host kernel --kernel names`);
  }
  const cache = r.bool('cache');
  const cacheDir = r.isSet('cachedir') ? r.path('cachedir', 'dir') : path.join(r.paths.cacheDir, 'archives');
  const enabled = r.int('install', 0, 1);
  const staging = r.oneOf('staging', ['auto', 'memory', 'disk'] as const);
  const noRootfsCache = r.bool('no-cache');
  const refreshRootfsCache = r.bool('refresh-cache');
  if (noRootfsCache && refreshRootfsCache) {
    r.errors.add(
      'E_CONFLICT',
      `${r.what('no-cache')} and ${r.what('refresh-cache')} both given`,
      'choose one: skip the root-tree cache, or rebuild its entry',
    );
  }
  if (
    r.errors.errors.length > before ||
    !method ||
    !dist ||
    !arch ||
    cache === undefined ||
    !cacheDir ||
    enabled === undefined
  )
    return undefined;
  const kernel = kernelPackage ?? guestKernelPackage(dist, arch, isHvm);
  const packages = [...dist.basePackages, ...(useGuestKernel ? [kernel] : [])];
  return {
    method,
    source,
    dist: dist.release,
    arch,
    mirror: mirror ?? dist.mirror,
    securityMirror: dist.security?.mirror,
    keyring,
    aptProxy,
    cache,
    cacheDir,
    debootstrapCommand: r.string('debootstrap-cmd'),
    extraPackages: [...new Set(packages)],
    enabled: enabled === 1,
    rootfsCache: noRootfsCache ? 'off' : refreshRootfsCache ? 'refresh' : 'use',
    staging: staging ?? 'auto',
  };
}

/**
 * Which kernel boots the guest. By default its own (pygrub style), which is what xen-tools 4.9.2
 * does for every current release (distributions.conf forces pygrub). Debian's stock
 * xen-tools.conf still sets `kernel = /boot/vmlinuz-\`uname -r\``; xen-tools ignores that under
 * pygrub, and so does xenkit: a kernel from the global conf is used only with pygrub turned
 * off. A --kernel/--initrd on the command line or in a --config file asks for the host kernel.
 */
export function validateBoot(
  r: SettingsReader,
  rootDevice: string,
  globalConfFile: string | undefined,
): BootSpec | undefined {
  const before = r.errors.errors.length;
  const type = r.oneOf('type', ['pv', 'pvh', 'hvm'] as const);
  const pygrub = r.bool('pygrub');
  const fromGlobalConf = (key: string): boolean => {
    const origin = r.get(key)?.origin;
    return origin?.kind === 'file' && origin.file === globalConfFile;
  };
  const asked = (key: string): boolean => r.string(key) !== undefined && !fromGlobalConf(key);
  const hostKernel =
    asked('kernel') || asked('initrd') || (pygrub === false && r.string('kernel') !== undefined);
  if (pygrub === true && hostKernel && r.isSet('pygrub')) {
    r.errors.add(
      'E_BOOT',
      `${r.what('pygrub')} and ${asked('kernel') ? r.what('kernel') : r.what('initrd')} both given`,
      "choose one: the guest's own kernel (--pygrub) or a host kernel (--kernel)",
    );
  }
  if (type === 'hvm' && hostKernel) {
    r.errors.add(
      'E_BOOT',
      `${r.what(asked('kernel') ? 'kernel' : 'initrd')} with ${r.what('type')} "hvm": an HVM guest boots its own kernel from its disk (extlinux)`,
      'drop --kernel/--initrd, or use --type=pv or pvh to boot a host kernel',
    );
  }
  if (pygrub === false && r.string('kernel') === undefined) {
    r.errors.add(
      'E_BOOT',
      `${r.what('pygrub')} turned off needs a host kernel`,
      'add --kernel=/boot/vmlinuz-... (and --initrd), or drop --nopygrub',
    );
  }
  let kernel: string | undefined;
  let initrd: string | undefined;
  let modules: string | undefined;
  if (hostKernel) {
    if (r.string('kernel') === undefined) {
      r.errors.add('E_BOOT', `${r.what('initrd')} given without a kernel`, 'add --kernel=/boot/vmlinuz-...');
    } else kernel = r.path('kernel', 'file');
    initrd = r.path('initrd', 'file');
    modules = r.path('modules', 'dir');
  } else if (asked('modules')) {
    // xen-tools' 80-install-modules skips --modules under pygrub without a word.
    r.errors.add(
      'E_BOOT',
      `${r.what('modules')} without --kernel: the guest boots its own kernel, which has its own modules`,
      'drop --modules, or boot a host kernel with --kernel=/boot/vmlinuz-... (then the modules are copied in)',
    );
  }
  const serial = r.string('serial_device') ?? 'hvc0';
  if (!/^(?:\/dev\/)?(?:tty|ttyS|[xh]vc)[0-9]+$/.test(serial)) {
    r.fail('serial_device', 'E_DEVICE', 'is not a console device', 'use hvc0 (Xen) or ttyS0 (HVM/QEMU)');
  }
  if (r.errors.errors.length > before || !type) return undefined;
  return {
    type,
    useGuestKernel: !hostKernel,
    kernel,
    initrd,
    modules,
    rootDevice,
    extra: undefined,
    serialDevice: serial.replace(/^\/dev\//, ''),
  };
}

function readPublicKeys(r: SettingsReader, file: string): string[] {
  const text = readFileSync(file, 'utf8');
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    r.errors.add('E_SSH_KEY', `${r.what('ssh-key')} "${file}" is a private key`, 'give the .pub file');
    return [];
  }
  const keys = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^(ssh-|ecdsa-|sk-)\S+ [A-Za-z0-9+/=]+/.test(l));
  if (keys.length === 0) {
    r.errors.add(
      'E_SSH_KEY',
      `${r.what('ssh-key')} "${file}" holds no public key`,
      'give a file like ~/.ssh/id_ed25519.pub',
    );
  }
  return keys;
}

/**
 * Validates root password, hash, accounts and SSH keys. With `installs` false (`--install=0`)
 * the filesystem stays empty: there is no /etc/shadow to put a password in, so none is
 * generated, and asking for one (or for accounts or keys) is an error.
 */
export function validateAccounts(r: SettingsReader, installs: boolean): AccountsSpec | undefined {
  const before = r.errors.errors.length;
  const chosen: string[] = [];
  if (r.bool('passwd')) chosen.push('passwd');
  if (r.string('password') !== undefined) chosen.push('password');
  if (r.string('password-file') !== undefined) chosen.push('password-file');
  if (r.bool('password-stdin')) chosen.push('password-stdin');
  if (!installs) {
    const asked = [...chosen];
    if (r.list('ssh-key').length > 0) asked.push('ssh-key');
    if (r.list('admins').length > 0) asked.push('admins');
    if (r.bool('accounts')) asked.push('accounts');
    // Refused when asked for on the layer of install=0 or above it (the command line); a conf
    // file's `passwd = 1` gives way to --install=0 on the command line.
    const install = r.get('install');
    const overridden = (key: string): boolean =>
      install?.origin.kind === 'cli' && r.get(key)?.origin.kind === 'file';
    for (const key of asked) {
      if (overridden(key)) {
        r.warnings.push(`${r.what(key)} is ignored with ${r.what('install')} "0": nothing is installed`);
        continue;
      }
      r.errors.add(
        'E_CONFLICT',
        `${r.what(key)} and ${r.what('install')} "0" both given: nothing is installed to put it in`,
        `drop ${r.what(key)}, or leave --install out to install a system`,
      );
    }
    if (!asked.every(overridden)) return undefined;
    const hashMethod = r.oneOf('hash_method', ['sha512', 'yescrypt', 'sha256', 'md5'] as const);
    if (!hashMethod) return undefined;
    return {
      rootPassword: { kind: 'none' },
      hashMethod,
      copyAccounts: false,
      admins: [],
      sshAuthorizedKeys: [],
    };
  }
  if (chosen.length > 1) {
    r.errors.add(
      'E_PASSWORD',
      `${chosen.map((k) => r.what(k)).join(' and ')} each set the root password`,
      'choose one of --passwd, --password-file, --password-stdin, --password',
    );
  }
  let rootPassword: PasswordSource = { kind: 'none' };
  const genpass = r.bool('genpass');
  const given = chosen[0];
  if (genpass && given && isSameLayer(r.get('genpass'), r.get(given))) {
    r.errors.add(
      'E_CONFLICT',
      `${r.what('genpass')} and ${r.what(given)} both given`,
      `choose one: a generated password (--genpass=1) or ${r.what(given)}`,
    );
  }
  const length = r.int('genpass_len', 8, 256);
  if (chosen[0] === 'passwd') rootPassword = { kind: 'prompt' };
  else if (chosen[0] === 'password-file') {
    const file = r.path('password-file', 'file');
    if (file) rootPassword = { kind: 'file', path: file };
  } else if (chosen[0] === 'password-stdin') rootPassword = { kind: 'stdin' };
  else if (chosen[0] === 'password') {
    rootPassword = { kind: 'value', value: r.string('password') ?? '' };
    const origin = r.get('password')?.origin;
    r.warnings.push(
      origin?.kind === 'cli'
        ? '--password puts the password where other users can see it (ps, shell history): prefer --password-file or --password-stdin'
        : `${r.what('password')}: the root password is stored in plain text in that file`,
    );
  } else if (genpass && installs) rootPassword = { kind: 'generate', length: length ?? 20 };
  const hashMethod = r.oneOf('hash_method', ['sha512', 'yescrypt', 'sha256', 'md5'] as const);
  if (hashMethod === 'md5')
    r.warnings.push(`${r.what('hash_method')} "md5" is weak: prefer sha512 or yescrypt`);
  const admins = r.list('admins');
  for (const admin of admins) {
    if (!USER_RE.test(admin))
      r.errors.add(
        'E_USER',
        `${r.what('admins')} "${admin}" is not a user name`,
        'lower-case letters, digits, "_" and "-", starting with a letter',
      );
  }
  const sshAuthorizedKeys: string[] = [];
  for (const item of r.list('ssh-key')) {
    const file = r.checkPath('ssh-key', item, 'file');
    if (file) sshAuthorizedKeys.push(...readPublicKeys(r, file));
  }
  const copyAccounts = r.bool('accounts');
  if (r.errors.errors.length > before || !hashMethod || genpass === undefined) return undefined;
  return { rootPassword, hashMethod, copyAccounts: copyAccounts ?? false, admins, sshAuthorizedKeys };
}

/** Validates hooks and role scripts (each role must exist, absolute or in the role directory). */
export function validateHooks(r: SettingsReader): HookSpec | undefined {
  const before = r.errors.errors.length;
  const enabled = r.int('hooks', 0, 1);
  const roleDir = r.path('roledir') ?? r.paths.roleDir;
  const checkRoles = (key: string): string[] => {
    const roles = r.list(key);
    for (const role of roles) r.checkPath(key, role, 'file', roleDir);
    return roles;
  };
  const roles = checkRoles('role');
  const finalRoles = checkRoles('finalrole');
  if (r.errors.errors.length > before || enabled === undefined) return undefined;
  return {
    enabled: enabled === 1,
    // The admin's hook directory is optional: a host without one simply has no user hooks.
    dirs: existsSync(r.paths.hooksDir) ? [r.paths.hooksDir] : [],
    roles,
    finalRoles,
    roleArgs: r.string('role-args'),
    roleDir,
    ...(existsSync(r.paths.skelDir) ? { skelDir: r.paths.skelDir } : {}),
  };
}
