/**
 * `xen-create-image --host NAME`: the guest is built here as usual, but in a staging directory of
 * this host, then its images (and the kernel and initrd it boots) are uploaded into a storage pool
 * of the remote libvirt host as volumes (`vol-create-as` with the image's format, `vol-upload
 * --sparse`), and the domain is defined there with its disks on those volumes. Staging is removed
 * at the end. On failure the undo stack deletes the volumes and the definition it made there and
 * the staging here; a domain or volume of that name that exists there already is refused before
 * anything is built, so nothing it did not make is touched.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { usageError } from '../errors.js';
import { renderDomainXml } from '../formats/libvirt-xml.js';
import { parseXlCfg } from '../formats/xl-cfg-parse.js';
import { resolveBootFiles } from '../hypervisors/qemu/boot-files.js';
import { buildKernelCmdline } from '../hypervisors/qemu/kernel-cmdline.js';
import { randomXenMac } from '../model/mac.js';
import type { DomainConfig } from '../model/domain-config.js';
import type { GuestSpec } from '../model/guest-spec.js';
import type { Paths } from '../paths.js';
import { readFileReadOffset } from '../tools/file-read-offset.js';
import type { Plan, PlanStep, StepContext } from '../plan/plan.js';
import { humanSize } from '../storage/free-space.js';
import {
  defineVirshDomain,
  listVirshDomains,
  readVirshHasKvm,
  startVirshDomain,
  undefineVirshDomain,
  type VirshOptions,
} from '../tools/virsh.js';
import {
  createVirshVolume,
  deleteVirshVolume,
  readVirshVolume,
  readVirshVolumePath,
  requireVirshPool,
  uploadVirshVolume,
} from '../tools/virsh-storage.js';
import type { CreateImageOutcome } from './create-image-plan.js';

/** Where a guest goes: the host (as the user named it), its URI, and the storage pool there. */
export interface RemoteHost {
  label: string;
  uri: string;
  pool: string;
  /** How to run virsh besides the URI (tests: binary, environment). */
  virsh?: Omit<VirshOptions, 'uri'>;
}

/** One file to put on the remote host as a volume. */
interface Upload {
  /** What it is, for titles: disk, swap, kernel, initrd. */
  role: string;
  local: string;
  volume: string;
  format: 'raw' | 'qcow2';
}

/** The staging directory of a remote build, under this host's cache. */
export function remoteStagingDir(paths: Paths, name: string): string {
  return path.join(paths.cacheDir, 'remote-staging', `${name}-${randomBytes(4).toString('hex')}`);
}

/**
 * The spec built in `staging` instead of its final place: images and cfg there, no line in this
 * host's /etc/hosts, and --boot left to the remote steps.
 */
export function stageSpecForRemote(spec: GuestSpec, staging: string): GuestSpec {
  if (spec.storage.kind !== 'file') {
    throw usageError(
      'E_UNSUPPORTED',
      `guest "${spec.name}": --host builds image files and uploads them; --lvm and --image-dev are for this host`,
      'drop --lvm/--image-dev (the images go into the remote storage pool)',
    );
  }
  return {
    ...spec,
    storage: { ...spec.storage, guestDir: staging },
    output: { ...spec.output, cfgPath: path.join(staging, `${spec.name}${spec.output.extension}`) },
    updateHostHosts: false,
    startAfter: false,
  };
}

/** The volume names of a guest in the remote pool. */
function volumeNames(name: string): Record<string, string> {
  return {
    disk: `${name}-disk.img`,
    swap: `${name}-swap.img`,
    kernel: `${name}-vmlinuz`,
    initrd: `${name}-initrd.img`,
  };
}

/**
 * Adds the remote steps to a create-image plan built from the staged spec: a check right after the
 * guest's lock (the pool runs, no domain or volume of these names exists there), then upload,
 * define, [start,] and the removal of the staging directory at the end.
 */
export function addRemoteSteps(
  plan: Plan,
  staged: GuestSpec,
  outcome: CreateImageOutcome,
  remote: RemoteHost,
  startAfter: boolean,
): Plan {
  const virsh: VirshOptions = { ...remote.virsh, uri: remote.uri };
  const staging = staged.storage.kind === 'file' ? staged.storage.guestDir : '';
  const format = staged.storage.kind === 'file' ? staged.storage.format : 'raw';
  const names = volumeNames(staged.name);
  const where = `host ${remote.label} (${remote.uri})`;
  // Filled by the upload step: local path -> path of its volume there.
  const placed = new Map<string, string>();
  let bootFiles: { kernel?: string; initrd?: string } = {};
  let config: DomainConfig | undefined;

  const check: PlanStep = {
    id: 'remote.check',
    title: `Check ${where}: pool "${remote.pool}", no guest ${staged.name} there`,
    actions: [
      { kind: 'run', argv: ['virsh', '--connect', remote.uri, 'pool-info', remote.pool] },
      { kind: 'run', argv: ['virsh', '--connect', remote.uri, 'list', '--all'] },
    ],
    run: async () => {
      await requireVirshPool(remote.pool, remote.label, virsh);
      const there = (await listVirshDomains(virsh)).find((row) => row.name === staged.name);
      if (there) {
        throw usageError(
          'E_EXISTS',
          `${where} has a domain "${staged.name}" already (${there.state})`,
          `choose another --hostname, or remove it there first (virsh --connect ${remote.uri} undefine ${staged.name})`,
        );
      }
      for (const volume of Object.values(names)) {
        if (await readVirshVolume(remote.pool, volume, virsh)) {
          throw usageError(
            'E_EXISTS',
            `pool "${remote.pool}" of ${where} has a volume "${volume}" already`,
            `it is not this run's to replace: remove it there first (virsh --connect ${remote.uri} vol-delete --pool ${remote.pool} ${volume})`,
          );
        }
      }
    },
  };

  const uploadsOf = (): Upload[] => {
    const list: Upload[] = [];
    if (outcome.diskPath) list.push({ role: 'disk', local: outcome.diskPath, volume: names.disk!, format });
    if (outcome.swapPath) list.push({ role: 'swap', local: outcome.swapPath, volume: names.swap!, format });
    if (bootFiles.kernel)
      list.push({ role: 'kernel', local: bootFiles.kernel, volume: names.kernel!, format: 'raw' });
    if (bootFiles.initrd)
      list.push({ role: 'initrd', local: bootFiles.initrd, volume: names.initrd!, format: 'raw' });
    return list;
  };

  const upload: PlanStep = {
    id: 'remote.upload',
    title: `Upload the images into pool "${remote.pool}" of ${where}`,
    actions: [
      {
        kind: 'note',
        text: `the kernel and initrd the guest boots are taken out of its image when it has its own`,
      },
      ...['disk', ...(outcome.swapPath ? ['swap'] : [])].flatMap((role) => {
        const volume = names[role]!;
        const file = role === 'disk' ? outcome.diskPath : outcome.swapPath;
        return [
          {
            kind: 'run' as const,
            argv: [
              'virsh',
              '--connect',
              remote.uri,
              'vol-create-as',
              remote.pool,
              volume,
              'SIZE',
              '--format',
              format,
            ],
          },
          {
            kind: 'run' as const,
            argv: [
              'virsh',
              '--connect',
              remote.uri,
              'vol-upload',
              '--sparse',
              '--pool',
              remote.pool,
              volume,
              file ?? '',
            ],
          },
        ];
      }),
    ],
    run: async (ctx) => {
      config = parseXlCfg(readFileSync(staged.output.cfgPath, 'utf8'), staged.output.cfgPath);
      const boot = await resolveBootFiles(config, path.join(staging, 'boot'));
      bootFiles = boot;
      for (const item of uploadsOf()) {
        const bytes = statSync(item.local).size;
        const undo = `delete volume ${item.volume} of pool ${remote.pool} on ${remote.label}`;
        // Journaled first: a run killed here leaves a volume the next run of this guest deletes.
        const intent = ctx.undo.expect(undo, {
          kind: 'libvirt-volume',
          uri: remote.uri,
          pool: remote.pool,
          name: item.volume,
        });
        await createVirshVolume(remote.pool, item.volume, bytes, item.format, virsh);
        ctx.undo.push(undo, () => deleteVirshVolume(remote.pool, item.volume, virsh), intent);
        await uploadWithProgress(item, bytes, remote.pool, virsh, ctx);
        placed.set(item.local, await readVirshVolumePath(remote.pool, item.volume, virsh));
      }
    },
  };

  const define: PlanStep = {
    id: 'remote.define',
    title: `Define the domain ${staged.name} on ${where}`,
    actions: [
      { kind: 'run', argv: ['virsh', '--connect', remote.uri, 'define', path.join(staging, 'domain.xml')] },
    ],
    run: async (ctx) => {
      if (!config) throw new Error('remote.define ran before remote.upload (bug)');
      const dc: DomainConfig = {
        ...config,
        disks: config.disks.map((d) => ({ ...d, target: placed.get(d.target) ?? d.target })),
        vifs: config.vifs.map((v) => ({ ...v, mac: v.mac ?? randomXenMac() })),
      };
      const at = (file: string | undefined): string | undefined =>
        file === undefined ? undefined : placed.get(file);
      const xml = renderDomainXml(dc, {
        domainType: (await readVirshHasKvm(virsh)) ? 'kvm' : 'qemu',
        kernel: at(bootFiles.kernel),
        initrd: at(bootFiles.initrd),
        cmdline: bootFiles.kernel !== undefined ? buildKernelCmdline(config) : undefined,
      });
      const file = path.join(staging, 'domain.xml');
      writeFileSync(file, xml, { mode: 0o600 });
      const undo = `undefine domain ${staged.name} on ${remote.label}`;
      const intent = ctx.undo.expect(undo, { kind: 'libvirt-domain', uri: remote.uri, name: staged.name });
      await defineVirshDomain(file, virsh);
      ctx.undo.push(undo, () => undefineVirshDomain(staged.name, virsh), intent);
      outcome.diskPath = at(outcome.diskPath);
      outcome.swapPath = at(outcome.swapPath);
      outcome.cfgPath = `domain ${staged.name} on ${where}`;
    },
  };

  const start: PlanStep = {
    id: 'remote.start',
    title: `Start ${staged.name} on ${where}`,
    actions: [{ kind: 'run', argv: ['virsh', '--connect', remote.uri, 'start', staged.name] }],
    run: () => startVirshDomain(staged.name, false, virsh),
  };

  const cleanup: PlanStep = {
    id: 'remote.cleanup',
    title: `Remove the staging directory ${staging}`,
    actions: [{ kind: 'remove', path: staging }],
    run: () => {
      rmSync(staging, { recursive: true, force: true });
      return Promise.resolve();
    },
  };

  const [first, ...rest] = plan.steps;
  // The staging directory goes on failure too (the plan's own undo removes only what it made in it).
  const stagingUndo: PlanStep = {
    id: 'remote.staging',
    title: `Stage the build in ${staging}`,
    actions: [{ kind: 'note', text: `images and cfg are built in ${staging}, removed once uploaded` }],
    run: (ctx) => {
      ctx.undo.push(`remove staging directory ${staging}`, () =>
        rmSync(staging, { recursive: true, force: true }),
      );
      return Promise.resolve();
    },
  };
  return {
    subject: `${plan.subject} on ${where}`,
    steps: [
      ...(first ? [first] : []),
      check,
      stagingUndo,
      ...rest,
      upload,
      define,
      ...(startAfter ? [start] : []),
      cleanup,
    ],
  };
}

/** vol-upload, with how far virsh has read the file shown as progress every second. */
async function uploadWithProgress(
  item: Upload,
  bytes: number,
  pool: string,
  virsh: VirshOptions,
  ctx: StepContext,
): Promise<void> {
  // A sparse upload skips the holes: what is sent is the allocated part.
  const allocated = Math.min(bytes, statSync(item.local).blocks * 512);
  const timer = setInterval(() => {
    const offset = readFileReadOffset(item.local);
    if (offset !== undefined)
      ctx.reporter.progress(
        'remote.upload',
        `${item.role}: ${humanSize(offset)} of ${humanSize(bytes)} (${Math.floor((100 * offset) / Math.max(bytes, 1))}%)`,
      );
  }, 500);
  const started = Date.now();
  try {
    await uploadVirshVolume(pool, item.volume, item.local, virsh);
  } finally {
    clearInterval(timer);
  }
  ctx.sink({
    type: 'info',
    message: `uploaded ${item.role} ${item.local} (${humanSize(allocated)} in use of ${humanSize(bytes)}) to volume ${item.volume} in ${Date.now() - started} ms`,
  });
}
