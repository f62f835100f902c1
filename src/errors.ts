/** The one error type of xenkit: a stable code, a one-line message naming the input, and a hint. */

/** What kind of failure an error is; the CLI maps kinds to exit codes. */
export type ErrorKind = 'usage' | 'runtime' | 'cancelled';

export interface XenkitErrorOptions {
  kind?: ErrorKind;
  hint?: string;
  details?: string;
  cause?: unknown;
}

/** An error with a stable code (`E_SIZE`, `E_EXEC`, ...), a one-line message and an optional hint. */
export class XenkitError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  readonly hint: string | undefined;
  readonly details: string | undefined;

  constructor(code: ErrorCode, message: string, options: XenkitErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'XenkitError';
    this.code = code;
    this.kind = options.kind ?? 'runtime';
    this.hint = options.hint;
    this.details = options.details;
  }

  /** A plain object for `--json` output. */
  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      kind: this.kind,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

/** Several validation errors found at once; the CLI prints each on its own line. */
export class ValidationErrors extends XenkitError {
  readonly errors: readonly XenkitError[];

  constructor(errors: readonly XenkitError[]) {
    const first = errors[0];
    super(first?.code ?? 'E_INVALID', first?.message ?? 'invalid input', {
      kind: 'usage',
      hint: first?.hint,
    });
    this.name = 'ValidationErrors';
    this.errors = errors;
  }

  override toJSON(): Record<string, unknown> {
    return { code: 'E_INVALID', kind: 'usage', errors: this.errors.map((e) => e.toJSON()) };
  }
}

/** A usage/config error: bad input from the user, exit status 2. */
export function usageError(code: ErrorCode, message: string, hint?: string, cause?: unknown): XenkitError {
  return new XenkitError(code, message, { kind: 'usage', hint, cause });
}

/** A runtime failure: something went wrong while acting, exit status 1. */
export function runtimeError(code: ErrorCode, message: string, hint?: string, cause?: unknown): XenkitError {
  return new XenkitError(code, message, { kind: 'runtime', hint, cause });
}

/** Exit status for an error: 2 for usage, 130 for cancellation, 1 otherwise. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof XenkitError) {
    if (error.kind === 'usage') return 2;
    if (error.kind === 'cancelled') return 130;
  }
  return 1;
}

/** Collects errors during validation so that every problem is reported at once. */
export class ErrorCollector {
  readonly errors: XenkitError[] = [];

  add(code: ErrorCode, message: string, hint?: string): void {
    this.errors.push(usageError(code, message, hint));
  }

  push(error: XenkitError): void {
    if (error instanceof ValidationErrors) this.errors.push(...error.errors);
    else this.errors.push(error);
  }

  /** Runs `fn`, recording a thrown XenkitError instead of propagating it. */
  attempt<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (error) {
      if (error instanceof XenkitError) {
        this.push(error);
        return undefined;
      }
      throw error;
    }
  }

  get isEmpty(): boolean {
    return this.errors.length === 0;
  }

  /** Throws ValidationErrors when anything was collected. */
  throwIfAny(): void {
    if (this.errors.length > 0) throw new ValidationErrors(this.errors);
  }
}

// ---------------------------------------------------------------------------------------------
// Failures of the system rather than of xenkit (a full disk, a quota, a name too long for the
// filesystem) turned into one-line XenkitErrors, so that none of them reaches the user as a
// stack trace. The step executor adds the step it happened in; the top-level handler catches
// whatever is left.

const NO_SPACE_CODES = new Set(['ENOSPC', 'EDQUOT']);
const NO_SPACE_TEXT = /No space left on device|Disk quota exceeded|\bENOSPC\b|\bEDQUOT\b/i;

/** Where to tell the user to look for the stack trace. */
export const DEBUG_HINT = 'run again with XENKIT_DEBUG=1 to see the stack trace';

function errnoOf(error: unknown): NodeJS.ErrnoException | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? (error as NodeJS.ErrnoException) : undefined;
}

/** Whether `error` (a node errno error, a failed command, or one wrapping them) means "disk full". */
export function isNoSpace(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 5; depth += 1) {
    const code = errnoOf(e)?.code;
    if (code !== undefined && NO_SPACE_CODES.has(code)) return true;
    if (e instanceof XenkitError && NO_SPACE_TEXT.test(`${e.message}\n${e.details ?? ''}`)) return true;
    e = e instanceof Error ? e.cause : undefined;
  }
  return false;
}

/** The file a "disk full" error was about: the errno's path, or the one a tool named. */
function noSpacePath(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 5; depth += 1) {
    const errno = errnoOf(e);
    if (errno?.path) return errno.path;
    const text = e instanceof XenkitError ? `${e.message}\n${e.details ?? ''}` : '';
    // cp: error writing '/x/disk.img': No space left on device; mkfs: /x: No space left ...
    const named =
      /['‘"](\/[^'’"\n]+)['’"]:? *(?:No space|Disk quota)/.exec(text) ??
      /(\/[^\s:'"]+): *(?:No space|Disk quota)/.exec(text);
    if (named?.[1]) return named[1];
    e = e instanceof Error ? e.cause : undefined;
  }
  return undefined;
}

/**
 * The error a failed step reports: a full disk or quota as E_NO_SPACE naming the path and the
 * step, any other bare errno error as one line naming the step. XenkitErrors pass unchanged
 * (an E_NO_SPACE gets the step added).
 */
export function describeStepFailure(error: unknown, stepTitle: string): unknown {
  if (error instanceof XenkitError && error.kind !== 'runtime') return error;
  if (isNoSpace(error)) {
    if (error instanceof XenkitError && error.code === 'E_NO_SPACE') {
      if (error.message.includes(' during step ')) return error;
      return new XenkitError(error.code, `${error.message} during step "${stepTitle}"`, {
        kind: error.kind,
        hint: error.hint,
        details: error.details,
        cause: error,
      });
    }
    const where = noSpacePath(error) ?? 'the device';
    return runtimeError(
      'E_NO_SPACE',
      `no space left on ${where} during step "${stepTitle}"`,
      'free some space there, or choose another --dir',
      error,
    );
  }
  const errno = errnoOf(error);
  if (errno && !(error instanceof XenkitError)) {
    return runtimeError(
      'E_SYSTEM',
      `step "${stepTitle}" failed: ${oneLine(errno.message)}`,
      DEBUG_HINT,
      error,
    );
  }
  return error;
}

/** Any error as a XenkitError for the top-level handler; unknown ones become one line. */
export function describeUnexpectedError(error: unknown): XenkitError {
  if (error instanceof XenkitError) return error;
  if (isNoSpace(error)) {
    return runtimeError(
      'E_NO_SPACE',
      `no space left on ${noSpacePath(error) ?? 'the device'}`,
      'free some space there, or choose another --dir',
      error,
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  const errno = errnoOf(error);
  return new XenkitError(errno ? 'E_SYSTEM' : 'E_INTERNAL', oneLine(message), {
    kind: 'runtime',
    hint: errno ? DEBUG_HINT : `this is a bug in xenkit; ${DEBUG_HINT}`,
    cause: error,
  });
}

function oneLine(text: string): string {
  return text.split('\n')[0] ?? '';
}

// ---------------------------------------------------------------------------------------------
// The registry of error codes. A code is stable (scripts match on it); its exit status follows
// from the error's kind (usageError: 2, runtimeError: 1, cancelled: 130). test/errors.test.ts
// checks that src/ uses no code missing here and that every code here is used.

/** Every error code xenkit uses, with what it means. */
export const ERROR_CODES = {
  E_ACCEL: 'an accelerator that is neither kvm nor tcg',
  E_ADMIN: 'an admin account name that is not a valid user name',
  E_AGE: 'a cache age that is not a duration (30d, 12h, 2w, 90m)',
  E_APT_PROXY: 'an apt proxy that is not a URL',
  E_APT_UPDATE: 'apt-get update in the guest failed before hooks and roles ran',
  E_ARG: 'an xm argument that is not a whole number of at least 1',
  E_AUTOSTART_NOT_LINK:
    'the autostart entry of a domain is a file, not a link (maybe the only copy of its cfg)',
  E_AUTOSTART_TAKEN: 'the autostart entry of a domain exists and links elsewhere',
  E_BACKUP_COPY: "a point-in-time copy of a running guest's disks that failed or did not end",
  E_BACKUP_DISK: 'a guest disk backup cannot read (missing, or neither an image file nor a block device)',
  E_BACKUP_FORMAT: 'a guest disk in a format backup does not read (neither raw nor qcow2)',
  E_BACKUP_KEY:
    'an encrypted backup repository without its key, a wrong key, or a key file that is too short',
  E_BACKUP_SNAPSHOT:
    "an LVM snapshot of a running guest's volume that could not be made (no room in the VG) or overflowed",
  E_BAD_SNAPSHOT: 'a backup snapshot id that is not one',
  E_BOOL: 'a setting that is not a yes/no value',
  E_BOOT: "both the guest's own kernel (pygrub) and a host kernel were asked for",
  E_BOOT_FAILED: 'a guest built by xen-create-image that --boot could not start',
  E_BOOTLOADER:
    "the host lacks what an HVM guest's boot loader is installed with (extlinux, syslinux' mbr.bin)",
  E_BROADCAST: 'a broadcast address that does not match the address and netmask',
  E_CACHE: 'a root-tree cache entry found broken right after it was built',
  E_CACHE_CORRUPT: 'a root-tree cache entry still corrupt after it was rebuilt',
  E_CACHE_READ: 'a short read from a root-tree cache image',
  E_CANCELLED: 'the run was cancelled (Ctrl-C, SIGTERM, SIGHUP) and everything it made was undone',
  E_CGROUP: "no cgroup hierarchy with the cpu controller, so a QEMU guest's weight or cap cannot be set",
  E_CHANGED: 'something delete checked was replaced before it was removed',
  E_CHOICE: 'a setting that is not one of its allowed values',
  E_CLONE_DIR: 'the source of a clone is not in a DIR/domains/NAME directory and no --dir was given',
  E_CLONE_DISK: 'the source of a clone has a disk that is not an image file',
  E_CLONE_FS: 'a cloned filesystem whose UUID xenkit cannot change',
  E_CLONE_NAME: 'a clone given the name of its source',
  E_CLONE_NETWORK: 'a clone would share the static address of its source',
  E_CLONE_ROOT: 'no image of the clone holds a root filesystem with /etc/fstab',
  E_CLONE_UUID: 'a cloned filesystem does not have the new UUID after it was set',
  E_CONFLICT: 'two options that exclude each other were both given',
  E_CONF_MISSING: 'the xen-tools.conf named does not exist',
  E_CONF_SYNTAX:
    'a xen-tools.conf or xenkit.conf line that is not "key = value" (or an unknown xenkit.conf key)',
  E_CONSOLE: 'the console of a guest cannot be opened (QEMU socket, virsh console)',
  E_CONTROL_CHAR: 'a value holding a control character',
  E_DEBUGFS: 'debugfs could not set the root directory of a filesystem',
  E_DESTROY: 'a QEMU process that survived SIGKILL',
  E_DETECT_FLAGS: 'detect options that ask for opposite things (--json and --quiet)',
  E_DEVICE: 'a disk device name that is not xvda, sda, hda or vda',
  E_DEVICE_BUSY: 'a block device that is mounted',
  E_DISK_MISSING: "the root disk a guest's cfg names does not exist",
  E_DIST: 'a distribution that is empty or unknown',
  E_DOMAIN_EXISTS: 'a guest started that is already running',
  E_DOMAIN_NAME: 'a domain name that is not valid',
  E_DOMAIN_RUNNING: 'xm create of a domain that is already running',
  E_DOMID: 'the domain-ID counter file holds something that is not an ID',
  E_DRIVER: 'a hypervisor driver that is not xl, qemu or libvirt',
  E_EXEC: 'an external program failed or could not be started',
  E_EXISTS: 'a file or guest that exists already, without --force',
  E_EXPORT: 'a backup export whose written file does not match what it was made from',
  E_EXTENSION: 'a cfg extension that is not a file name suffix',
  E_FAILPOINT: 'the test failpoint XENKIT_FAILPOINT was reached',
  E_FS: 'a filesystem type that is not supported',
  E_FS_VERIFY: 'a filesystem or swap that blkid does not find as it was made',
  E_GATEWAY: "a gateway outside the guest's network",
  E_GUEST_KERNEL: "no kernel can be taken from a guest's root disk",
  E_GUEST_NAME: 'a guest name that is not a single plain file name',
  E_HAS_CLONES: 'deleting a guest whose images back linked clones, without --force',
  E_HOOK: 'a user hook failed',
  E_HOOK_DIR: 'a hook directory that does not exist',
  E_HOST: 'a libvirt host name that is not configured or not a name, or a URI that is not one',
  E_HOSTNAME: 'no --hostname given',
  E_HOTPLUG: 'a disk or NIC that cannot be hot-plugged or unplugged (taken, no free slot, booted with)',
  E_IFNAME: 'a bridge or vif name that is not an interface name',
  E_IMAGE_TOO_SMALL: 'a root tree that does not fit in the image size',
  E_INSTALL_INCOMPLETE: 'an install that produced no /bin/sh',
  E_INSTALL_SOURCE:
    'an install method that needs --install-source without one, or a source that is not usable',
  E_INSTALL_TARGET: 'an install target that is not a directory',
  E_INT: 'a setting that is not a whole number in range',
  E_INTERNAL: 'an error xenkit did not expect (a bug)',
  E_INVALID: 'several problems in the input, reported together',
  E_IP: 'a value that is not an IP address',
  E_IPFILE: '--ip=auto without an address pool file',
  E_IP_EXHAUSTED: '--ip=auto with no free address left in the pool',
  E_IS_BASE: 'changing an image that backs linked clones',
  E_KERNEL: 'a kernel or ramdisk the cfg names that does not exist',
  E_LABEL: 'a filesystem label longer than the filesystem allows',
  E_LIBVIRT_CONNECT: 'a libvirt URI whose daemon cannot be reached',
  E_LIBVIRT_LOST: 'a libvirt daemon that stopped answering in the middle of a command',
  E_LOCKED: 'a guest, cache or registry locked by another xenkit process',
  E_LVM: 'a volume group name that is not valid',
  E_LVM_BUSY: 'a logical volume that is open',
  E_LVM_EXISTS: 'a logical volume that exists already, without --force',
  E_LVM_NO_DEVICE: 'a logical volume whose device did not appear after lvcreate',
  E_LVM_NO_POOL: 'a thin pool that does not exist',
  E_LVM_NO_SPACE: "a volume group without room for the guest's volumes",
  E_LVM_NO_VG: 'a volume group that does not exist',
  E_MAC: 'a value that is not a MAC address',
  E_MEMORY: 'a memory size out of range (below the minimum, or above maxmem)',
  E_MIGRATE: 'a failed or refused migration: QEMU save/restore, or xm migrate (the guest stays put)',
  E_MKFS: 'a mkfs command that is not a plain command line',
  E_NETMASK: 'a netmask or prefix that is not valid',
  E_NETWORK: 'network settings that do not fit together',
  E_NOT_BLOCK_DEVICE: 'an --image-dev or --swap-dev that is not a block device',
  E_NO_CFG: 'a domain whose cfg does not exist',
  E_NO_DEVICE: 'an --image-dev or --swap-dev that does not exist',
  E_NO_DOMAIN: 'a guest that is not running',
  E_NO_GUEST: 'a guest that does not exist',
  E_NO_IMAGE: 'a guest image or volume that does not exist',
  E_NO_REPO: 'a directory that is not a xenkit backup repository',
  E_NO_SNAPSHOT: 'a snapshot id or guest with no snapshot in the backup repository',
  E_NO_SPACE: 'a full disk or quota, naming where',
  E_OBSOLETE: 'an option that is no longer supported',
  E_PACKAGE: 'a --kernel-package that is not a Debian package name',
  E_PARTITIONS: 'a --partitions layout that xenkit cannot read or make',
  E_PASSWORD: 'the root password given more than one way, or not usable',
  E_PASSWORD_FILE: 'a password file that cannot be read',
  E_PASSWORD_HASH: 'a root password hash that is not sha512, sha256 or yescrypt',
  E_PASSWORD_LENGTH: 'a generated password length out of range',
  E_PASSWORD_STDIN: 'no password on standard input',
  E_PASSWORD_TTY: '--passwd without a terminal to ask on',
  E_PATH: 'a path too long for the filesystem',
  E_POOL: 'a libvirt storage pool that a host does not have or does not run',
  E_POOL_SIZE: 'a host-key pool size out of range',
  E_PROBE_ROOT: 'a detect --probe-root that is not a directory',
  E_QEMU_CONFIG: 'a domain config QEMU cannot run (memory, vCPUs, disks)',
  E_QEMU_EVENTS: 'QEMU did not answer on its event monitor in time',
  E_QEMU_IMG: 'qemu-img printed something xenkit cannot read',
  E_QEMU_PATH: 'a QEMU socket path longer than a UNIX socket allows',
  E_QMP: 'a QMP command that QEMU refused',
  E_QMP_CLOSED: 'the QMP connection closed during a command',
  E_QMP_CONNECT: 'the QMP socket of a guest cannot be reached',
  E_QMP_TIMEOUT: 'a QMP command without an answer in time',
  E_QSD: 'qemu-storage-daemon did not start as expected',
  E_RENAME: 'a rename to a name some guest has, or of a guest that does not exist',
  E_REPO: 'a backup repository whose own files are damaged',
  E_RESET_BASE: 'a reset-identity of a guest whose images back linked clones',
  E_RESET_DISK: 'a reset-identity of a guest with a disk that is not an image file',
  E_RESIZE_DEVICE: 'resizing a disk that is a device, not an image file or volume',
  E_RESIZE_FS: 'resizing a filesystem xenkit cannot grow',
  E_RESIZE_SHRINK: 'a new size that is not larger than the current one',
  E_RESIZE_SWAP: 'a resize --swap-of naming no swap of the guest, or a swap given two sizes',
  E_RESTORE_DAMAGED: 'a chunk read back during a restore that does not match its hash',
  E_RESTORE_DIR: 'a restore --as whose image directory cannot be derived (give --dir)',
  E_RESTORE_NETWORK: 'a restore --as of a guest with a static address, which a copy may not share',
  E_ROLE: 'a role script failed',
  E_ROOT: 'a --root that is not a directory',
  E_RUNNING: 'changing a guest that runs, naming the evidence',
  E_SAVE: 'a save file that cannot be written (its header too large)',
  E_SAVE_FILE: 'a file that cannot be read as a save file of the QEMU driver',
  E_SCHED: 'a scheduler weight or cap out of range',
  E_SHADOW: 'a guest /etc/shadow without a root entry',
  E_SHARED_IMAGE: "deleting a guest directory that holds another guest's image, without --force",
  E_SHUTDOWN_FAILED: 'some domains of an xm shutdown did not shut down',
  E_SHUTDOWN_TIMEOUT: 'a guest that did not power off in time',
  E_SIZE: 'a value that is not a size',
  E_SNAPSHOT_DAMAGED: 'a snapshot whose manifest does not check out',
  E_SSH_KEY: 'an SSH key file that is not a usable public key',
  E_SSH_KEYGEN: 'ssh-keygen printed a fingerprint xenkit cannot read',
  E_START_FAILED: 'some guests of an autostart run failed to start',
  E_STATE_DIR: 'a runtime state directory owned by another user, or not a directory',
  E_STORAGE: "more than one place for a guest's storage",
  E_STORAGE_UNSUPPORTED: 'EVMS or ZFS storage, which this version does not have',
  E_SYSTEM: 'a system call failed in a step (not a full disk)',
  E_TARGET_BUSY: 'a root tree that processes or mounts still hold',
  E_TEMPLATE: 'a template that cannot be read or rendered',
  E_TOOL_MISSING: 'a program xenkit needs is not installed',
  E_TREE_PATH: 'a path in a guest tree with too many levels of symlinks',
  E_TREE_SIZE: 'a root tree whose size cannot be measured',
  E_UMOUNT: 'a directory that could not be unmounted',
  E_UNSAFE_DIR: "a directory for xenkit's own state that another user owns or can write to",
  E_UNSUPPORTED: 'a verb the chosen driver does not have in this version',
  E_URL: 'a value that is not a URL',
  E_USAGE: 'a command line that does not fit the command (an unexpected argument, a missing one)',
  E_USER: 'a user name that is not valid',
  E_USER_NET: "slirp4netns, the QEMU user network's way out, did not start or connect",
  E_UUID: 'a value that is not a UUID',
  E_VCPUS: 'a vCPU count out of range (below 1, or above maxvcpus)',
  E_VIF_SCRIPT: 'a vif needing a Xen hotplug script that the QEMU driver does not run',
  E_VIRSH: 'a virsh command that failed',
  E_VLAN: '--vlan without the bridge its tag is set on',
  E_XL: 'an xl command that failed',
  E_XLCFG: 'an xl.cfg that cannot be read',
  E_XL_NEED_CFG: 'the xl driver asked to start a domain without a cfg file',
  E_XL_NOT_STARTED: 'xl create succeeded but the domain is not running',
  E_XL_NO_XEN: 'xl on a host that is not a running Xen dom0',
  E_XL_OUTPUT: 'xl printed something xenkit cannot read',
} as const satisfies Record<`E_${string}`, string>;

/** One of the codes of ERROR_CODES. */
export type ErrorCode = keyof typeof ERROR_CODES;
