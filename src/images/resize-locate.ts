/**
 * Where a guest's root disk and swaps are for resize-image: as `--dir` or `--lvm` say, else as its
 * cfg lists them; which of the candidates are swaps (a `--partitions` layout may make several,
 * each named after its section), and which of them `--swap` and `--swap-of NAME=SIZE` mean.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runtimeError, usageError } from '../errors.js';
import { underRoot, type Paths } from '../paths.js';
import { lvmVolumeNames, lvmVolumePath } from '../storage/lvm.js';
import { parseVolumePath } from '../storage/lvm-guest.js';
import { probeBlock } from '../tools/blkid.js';
import { listVolumes } from '../tools/lvm.js';
import { cfgPathOf, isPresent, readGuest } from './guest-files.js';

/** Where a guest's images are, when not where its cfg says. */
export interface ResizePlace {
  /** `--dir`: the images are DIR/domains/NAME/disk.img and swap.img (default: the cfg's disks). */
  dir?: string | undefined;
  /** `--lvm VG`: the volumes are /dev/VG/NAME-disk and NAME-swap. */
  lvm?: string | undefined;
}

/** The swaps asked to grow. */
export interface SwapSizes {
  /** New size of the (first) swap, bytes (undefined: leave it). */
  swapSize: number | undefined;
  /** New sizes of swaps by section name (`--swap-of NAME=SIZE`: a `--partitions` layout's others). */
  swapSizesOf?: readonly { name: string; size: number }[] | undefined;
}

/** One swap of a guest: its section name (`swap`, or a `--partitions` layout's) and where it is. */
export interface GuestSwapRef {
  name: string;
  path: string;
}

/** One volume a guest may have, before it is known to be a swap. */
interface Candidate {
  name: string;
  path: string;
  /** Partition number from the cfg's vdev (xvda3: 3), when known. */
  partition: number | undefined;
}

/** Where the guest's volumes are: the root disk, and the candidates for its swaps. */
interface Located {
  disk: string | undefined;
  candidates: () => Promise<Candidate[]>;
}

/** The section name of an image file (`swap2.img`) or volume (`/dev/vg0/web1-swap2`). */
function sectionOf(name: string, file: string): string {
  const ref = parseVolumePath(file);
  if (ref) return ref.name.startsWith(`${name}-`) ? ref.name.slice(name.length + 1) : ref.name;
  return path.basename(file).replace(/\.img$/, '');
}

/** The root disk of `name` and its possible swaps, as the options or the cfg say. */
export function locate(paths: Paths, name: string, options: ResizePlace): Located {
  if (options.lvm) {
    const vg = options.lvm;
    return {
      disk: lvmVolumePath(vg, lvmVolumeNames(name).disk),
      candidates: async () =>
        (await listVolumes(vg).catch(() => []))
          .filter((v) => v.name.startsWith(`${name}-`))
          .map((v) => ({
            name: v.name.slice(name.length + 1),
            path: lvmVolumePath(vg, v.name),
            partition: undefined,
          })),
    };
  }
  if (options.dir) {
    const dir = path.join(underRoot(paths, options.dir), 'domains', name);
    return {
      disk: path.join(dir, 'disk.img'),
      candidates: () => {
        let files: string[] = [];
        try {
          files = fs.readdirSync(dir).filter((f) => f.endsWith('.img'));
        } catch {
          // no such directory: the guest has no swap there
        }
        return Promise.resolve(
          files.map((f) => ({ name: sectionOf(name, f), path: path.join(dir, f), partition: undefined })),
        );
      },
    };
  }
  if (!isPresent(cfgPathOf(paths, name))) {
    throw runtimeError(
      'E_NO_GUEST',
      `guest "${name}": no domain config ${cfgPathOf(paths, name)}`,
      'give --dir=DIR if its images are in DIR/domains/NAME, --lvm=VG if it is on volumes',
    );
  }
  // A volume is a host device path: it is not moved under --root.
  const disks = readGuest(paths, name).disks.map((d) => ({
    path: parseVolumePath(d.config.target) ? d.config.target : d.path,
    vdev: d.config.vdev,
  }));
  const candidates = disks.map((d) => ({
    name: sectionOf(name, d.path),
    path: d.path,
    partition: /\d+$/.test(d.vdev) ? Number(/\d+$/.exec(d.vdev)![0]) : undefined,
  }));
  // xen-tools' cfg lists the root disk first.
  return {
    disk: candidates.find((c) => c.name !== 'swap')?.path,
    candidates: () => Promise.resolve(candidates),
  };
}

/**
 * The swaps among `candidates`, first swap first: what blkid finds a swap signature on, and the
 * volume named `swap` whatever it holds (so that resizing it says what is wrong with it). In
 * partition order when the cfg gives it, else `swap` first and the others by name.
 */
export async function findSwaps(candidates: readonly Candidate[]): Promise<GuestSwapRef[]> {
  const swaps: Candidate[] = [];
  for (const c of candidates) {
    const type = await probeBlock(c.path)
      .then((found) => found?.type)
      .catch(() => undefined);
    if (type === 'swap' || c.name === 'swap') swaps.push(c);
  }
  const order = (c: Candidate): [number, number, string] => [
    c.partition ?? Number.MAX_SAFE_INTEGER,
    c.name === 'swap' ? 0 : 1,
    c.name,
  ];
  swaps.sort((a, b) => {
    const [pa, sa, na] = order(a);
    const [pb, sb, nb] = order(b);
    return pa - pb || sa - sb || na.localeCompare(nb);
  });
  return swaps.map((c) => ({ name: c.name, path: c.path }));
}

/**
 * The swaps to grow and their sizes: `--swap` is the first swap (`swap` under --dir/--lvm),
 * `--swap-of NAME=SIZE` names one.
 */
export function pickSwaps(
  name: string,
  swaps: readonly GuestSwapRef[],
  options: ResizePlace & SwapSizes,
): { swap: GuestSwapRef | undefined; size: number }[] {
  const picked: { swap: GuestSwapRef | undefined; size: number }[] = [];
  // Without the cfg's partition numbers (--dir, --lvm) the first swap is the one named swap, as
  // before layouts: never another guest's volume that happens to start with NAME-.
  const first = options.dir || options.lvm ? swaps.find((s) => s.name === 'swap') : swaps[0];
  if (options.swapSize !== undefined) picked.push({ swap: first, size: options.swapSize });
  const known = swaps.length > 0 ? `its swaps: ${swaps.map((s) => s.name).join(', ')}` : 'it has no swap';
  for (const wanted of options.swapSizesOf ?? []) {
    const swap = swaps.find((s) => s.name === wanted.name);
    if (!swap) {
      throw usageError(
        'E_RESIZE_SWAP',
        `guest "${name}" has no swap named "${wanted.name}"`,
        `${known} (--swap-of takes a swap's section name)`,
      );
    }
    if (picked.some((p) => p.swap === swap)) {
      throw usageError(
        'E_RESIZE_SWAP',
        `guest "${name}": the swap "${swap.name}" is given two new sizes`,
        '--swap is its first swap; give each swap one size',
      );
    }
    picked.push({ swap, size: wanted.size });
  }
  return picked;
}
