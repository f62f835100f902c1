/**
 * xen-update-image: `apt-get update` and an upgrade inside a stopped guest's root filesystem. The
 * image (or logical volume) is loop-mounted read-write (a qcow2 one through a FUSE export; a
 * volume must not be open anywhere else), /proc, /sys and /dev are
 * mounted into it, a policy-rc.d keeps every daemon from starting, the host's resolv.conf stands in
 * for the guest's, and apt runs in a chroot without questions. Every one of those is undone in
 * reverse on success, failure or a signal.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TreeEditor, type WriteOptions } from '../customize/tree-editor.js';
import { runtimeError } from '../errors.js';
import { underRoot, type Paths } from '../paths.js';
import { lockGuest } from '../plan/guest-lock.js';
import type { Plan, PlanStep, StepContext } from '../plan/plan.js';
import { stateKey } from '../plan/step-state.js';
import { assertNotOpen, lvmVolumeNames, lvmVolumePath } from '../storage/lvm.js';
import { parseVolumePath } from '../storage/lvm-guest.js';
import { isBlockDevice } from '../storage/block-device.js';
import { runCommand } from '../tools/exec.js';
import { listVolumes } from '../tools/lvm.js';
import { mountArgv, mountFs, unmountFs, type MountOptions } from '../tools/mount.js';
import { assertGuestName } from '../model/guest-name.js';
import { saveGuestFile } from './guest-file-restore.js';
import { cfgPathOf, isPresent, readGuest } from './guest-files.js';
import {
  closeRawView,
  mountTree,
  openRawView,
  unmountTree,
  type MountedTree,
  type RawView,
} from './image-access.js';
import { isQcow2File, readBaseMarks } from './linked-base.js';
import { readGuestIdentity, refuseRunningGuest, type RunningCheckOptions } from './running.js';

export interface UpdateOptions {
  /** `--dir`: the root image is DIR/domains/NAME/disk.img. */
  dir: string | undefined;
  /** `--lvm VG`: the root filesystem is the volume /dev/VG/NAME-disk. */
  lvm?: string | undefined;
  /** `dir`/`lvm` come from xen-tools.conf: the guest's own cfg, when there is one, wins. */
  storageFromConf?: boolean;
  /** `upgrade` as xen-tools 4.9.2 runs it, or `dist-upgrade` (also takes new dependencies). */
  upgrade: 'upgrade' | 'dist-upgrade';
  /** Remove the downloaded packages afterwards (`apt-get clean`), so the image does not grow. */
  clean: boolean;
  /** The host's resolver config, copied in for the run. */
  hostResolvConf?: string;
  running?: RunningCheckOptions;
}

// What the mount step hands to the apt step and the teardown.
const VIEW = stateKey<RawView>('update.view');
const TREE = stateKey<MountedTree>('update.tree');
const EDITOR = stateKey<TreeEditor>('update.editor');

export const POLICY_RC_D = '/usr/sbin/policy-rc.d';
const POLICY_SCRIPT =
  '#!/bin/sh\n# Written by xenkit for xen-update-image: no daemon starts while the image is updated.\nexit 101\n';

/** What updating one guest found and did. */
export interface UpdateOutcome {
  name: string;
  image: string;
  format: string;
  /** false: no /usr/bin/apt-get in the image (xen-tools: "not a Debian GNU/Linux image"). */
  isDebian: boolean;
  /** Packages apt reported as upgraded/newly installed (from its summary line). */
  upgraded: number | undefined;
  newlyInstalled: number | undefined;
  durationMs: number;
}

/** The root image of `name`: /dev/VG/NAME-disk with --lvm, DIR/domains/NAME/disk.img with --dir, else the cfg's first disk. */
export function rootImageOf(
  paths: Paths,
  name: string,
  options: Pick<UpdateOptions, 'dir' | 'lvm' | 'storageFromConf'>,
): { image: string; format: string } {
  const hasCfg = isPresent(cfgPathOf(paths, name));
  const { dir, lvm } = options.storageFromConf && hasCfg ? { dir: undefined, lvm: undefined } : options;
  if (lvm) {
    const image = lvmVolumePath(lvm, lvmVolumeNames(name).disk);
    if (!isBlockDevice(image)) {
      throw runtimeError(
        'E_NO_IMAGE',
        `Logical volume '${image}' for host '${name}' not found`,
        `check the name and --lvm; list the volumes with: lvs ${lvm}`,
      );
    }
    return { image, format: 'raw' };
  }
  if (dir) {
    const image = path.join(underRoot(paths, dir), 'domains', name, 'disk.img');
    if (!isPresent(image)) {
      throw runtimeError(
        'E_NO_IMAGE',
        `Disk image '${image}' for host '${name}' not found`,
        'check the name and --dir (or --lvm=VG for a guest on volumes)',
      );
    }
    return { image, format: isQcow2File(image) ? 'qcow2' : 'raw' };
  }
  if (!hasCfg) {
    throw runtimeError(
      'E_NO_GUEST',
      `guest "${name}": no domain config ${cfgPathOf(paths, name)}`,
      'give --dir=DIR if its images are in DIR/domains/NAME, --lvm=VG if it is on volumes',
    );
  }
  const disks = readGuest(paths, name).disks;
  const file = disks.find((d) => d.isFile);
  if (file) return { image: file.path, format: isQcow2File(file.path) ? 'qcow2' : 'raw' };
  // A volume in the cfg is a host device path: it is not moved under --root.
  const volume = disks.map((d) => d.config.target).find((t) => parseVolumePath(t) && isBlockDevice(t));
  if (volume) return { image: volume, format: 'raw' };
  throw runtimeError(
    'E_NO_IMAGE',
    `guest "${name}": its cfg names no image file or logical volume that exists`,
    'xen-update-image works on image files and LVM volumes',
  );
}

/** Refuses a volume that is open (mounted, used by a running domain): two writers break it. */
async function refuseOpenVolume(image: string): Promise<void> {
  const ref = parseVolumePath(image);
  if (!ref) return;
  const lv = (await listVolumes(ref.vg).catch(() => [])).find((v) => v.name === ref.name);
  if (lv) assertNotOpen(lv);
}

/** Parses apt-get's `N upgraded, M newly installed, ...` line. */
export function parseAptSummary(text: string): { upgraded: number; newlyInstalled: number } | undefined {
  const match = /^(\d+) upgraded, (\d+) newly installed/m.exec(text);
  return match ? { upgraded: Number(match[1]), newlyInstalled: Number(match[2]) } : undefined;
}

/** The chroot argv of one apt-get run. */
export function aptArgv(root: string, args: readonly string[]): string[] {
  return ['chroot', root, '/usr/bin/apt-get', ...args];
}

const APT_ENV = { DEBIAN_FRONTEND: 'noninteractive', APT_LISTCHANGES_FRONTEND: 'none' };
const UPGRADE_FLAGS = [
  '-y',
  '-o',
  'Dpkg::Options::=--force-confdef',
  '-o',
  'Dpkg::Options::=--force-confold',
];

/** Checks the guest and builds the plan for updating it. */
export async function buildUpdatePlan(
  paths: Paths,
  rawName: string,
  options: UpdateOptions,
): Promise<{ plan: Plan; outcome: UpdateOutcome }> {
  const name = assertGuestName(rawName, 'command line');
  const { image, format } = rootImageOf(paths, name, options);
  const identity = readGuestIdentity(paths, name, [image]);
  await refuseRunningGuest(identity, paths, 'update', options.running);
  await refuseOpenVolume(image);
  refuseBaseImage(paths, name, image);
  const outcome: UpdateOutcome = {
    name,
    image,
    format,
    isDebian: false,
    upgraded: undefined,
    newlyInstalled: undefined,
    durationMs: 0,
  };
  const upgradeArgs = [...UPGRADE_FLAGS, options.upgrade];
  const steps: PlanStep[] = [
    {
      id: 'update.mount',
      title: `Mount the root filesystem of ${name} read-write`,
      actions: [
        { kind: 'note', text: `take the lock of guest ${name}; check again that it is stopped` },
        ...(format === 'raw'
          ? []
          : [{ kind: 'note' as const, text: `serve ${image} raw with qemu-storage-daemon (FUSE)` }]),
        { kind: 'run', argv: ['losetup', '--find', '--show', image] },
        { kind: 'run', argv: mountArgv('<loop>', '<tree>') },
        { kind: 'run', argv: mountArgv('proc', '<tree>/proc', { fsType: 'proc' }) },
        { kind: 'run', argv: mountArgv('sysfs', '<tree>/sys', { fsType: 'sysfs' }) },
        { kind: 'run', argv: mountArgv('/dev', '<tree>/dev', { options: ['bind'] }) },
        { kind: 'write', path: `<tree>${POLICY_RC_D}`, mode: 0o755, content: POLICY_SCRIPT },
        { kind: 'write', path: '<tree>/etc/resolv.conf', mode: 0o644 },
      ],
      run: async (ctx) => {
        await lockGuest(paths.lockDir, name, ctx);
        await refuseRunningGuest(identity, paths, 'update', options.running);
        await refuseOpenVolume(image);
        const view = await openRawView(image, format, ctx);
        const tree = await mountTree(view.rawPath, ctx);
        VIEW.set(ctx, view);
        TREE.set(ctx, tree);
        outcome.isDebian = isExecutable(path.join(tree.dir, 'usr/bin/apt-get'));
        if (!outcome.isDebian) return;
        const binds: [string, string, MountOptions][] = [
          ['proc', 'proc', { fsType: 'proc' }],
          ['sysfs', 'sys', { fsType: 'sysfs' }],
          ['/dev', 'dev', { options: ['bind'] }],
        ];
        for (const [source, dir, opts] of binds) {
          fs.mkdirSync(path.join(tree.dir, dir), { recursive: true });
          await mountFs(source, path.join(tree.dir, dir), ctx, opts);
        }
        const editor = new TreeEditor(tree.dir);
        const resolv = options.hostResolvConf ?? '/etc/resolv.conf';
        const writes: [string, string | Buffer, WriteOptions][] = [
          [POLICY_RC_D, POLICY_SCRIPT, { mode: 0o755, uid: 0, gid: 0 }],
          ...(fs.existsSync(resolv)
            ? [
                ['/etc/resolv.conf', fs.readFileSync(resolv), { mode: 0o644 }] as [
                  string,
                  Buffer,
                  WriteOptions,
                ],
              ]
            : []),
        ];
        // What they held goes into the journal first: a run killed with them in place (mid-apt)
        // gets them put back by the next run or xenkit doctor.
        const saved = writes.map(([file, data]) => saveGuestFile(editor, file, data));
        const description = `restore resolv.conf and policy-rc.d in ${tree.dir}`;
        const intent = ctx.undo.expect(description, { kind: 'guest-files', image, format, files: saved });
        ctx.undo.push(description, () => editor.rollback(), intent);
        EDITOR.set(ctx, editor);
        for (const [file, data, opts] of writes) editor.writeFile(file, data, opts);
      },
    },
    {
      id: 'update.apt',
      title: `apt-get update and ${options.upgrade} in ${name}`,
      actions: [
        { kind: 'run', argv: aptArgv('<tree>', ['update']) },
        { kind: 'run', argv: aptArgv('<tree>', upgradeArgs) },
        ...(options.clean ? [{ kind: 'run' as const, argv: aptArgv('<tree>', ['clean']) }] : []),
        {
          kind: 'note',
          text: "DEBIAN_FRONTEND=noninteractive; changed config files keep the guest's version",
        },
      ],
      run: async (ctx) => {
        const tree = TREE.get(ctx);
        if (!outcome.isDebian || !tree) return;
        const started = Date.now();
        const apt = (args: string[]) =>
          runCommand(aptArgv(tree.dir, args), {
            env: APT_ENV,
            sink: ctx.sink,
            signal: ctx.signal,
            onLine: (line) => ctx.reporter.progress('update.apt', line.slice(0, 100)),
          });
        await apt(['update']);
        const upgrade = await apt(upgradeArgs);
        const summary = parseAptSummary(upgrade.stdout);
        outcome.upgraded = summary?.upgraded;
        outcome.newlyInstalled = summary?.newlyInstalled;
        if (options.clean) await apt(['clean']);
        outcome.durationMs = Date.now() - started;
      },
    },
    {
      id: 'update.unmount',
      title: `Put everything back and unmount ${name}`,
      actions: [
        {
          kind: 'note',
          text: 'restore resolv.conf, remove policy-rc.d, unmount dev, sys, proc and the tree, detach',
        },
      ],
      run: (ctx) => tearDown(ctx),
    },
  ];
  return { plan: { subject: `update ${name}`, steps }, outcome };
}

async function tearDown(ctx: StepContext): Promise<void> {
  const tree = TREE.get(ctx);
  const view = VIEW.get(ctx);
  const editor = EDITOR.get(ctx);
  if (editor) {
    editor.rollback();
    ctx.undo.release(`restore resolv.conf and policy-rc.d in ${tree?.dir ?? ''}`);
  }
  if (tree) {
    for (const dir of ['dev', 'sys', 'proc']) {
      const mounted = path.join(tree.dir, dir);
      if (ctx.undo.describe().includes(`unmount ${mounted}`)) await unmountFs(mounted, ctx);
    }
    await unmountTree(tree, ctx);
  }
  if (view) await closeRawView(view, ctx);
}

/** A base of linked clones must never change: its clones read its blocks. */
function refuseBaseImage(paths: Paths, name: string, image: string): void {
  const cfgPath = cfgPathOf(paths, name);
  const marks = isPresent(cfgPath) ? readBaseMarks(fs.readFileSync(cfgPath, 'utf8')) : [];
  if (marks.some((m) => m.image === image)) {
    throw runtimeError(
      'E_IS_BASE',
      `guest "${name}": ${image} backs linked clones and must not change`,
      'update the clones instead, or delete them first (xenkit list-images shows them)',
    );
  }
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
