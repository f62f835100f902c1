/**
 * Linked clones read their unchanged blocks from the source's images, so those must never change
 * again: the source images are made read-only (mode 0400, and the immutable flag where the host
 * filesystem has one, since root ignores permission bits) and the source cfg says so in a note.
 * Finding the clones of a guest reads the backing file of every qcow2 disk of every cfg.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseXlCfg } from '../formats/xl-cfg-parse.js';
import type { EventSink } from '../log/events.js';
import type { Paths } from '../paths.js';
import type { StepContext } from '../plan/plan.js';
import { writeFileAtomically } from '../plan/write-file.js';
import { setImmutable } from '../tools/chattr.js';
import { readImageInfo } from '../tools/qemu-img.js';
import { guestDisksOf } from './guest-files.js';
import { identityOf } from '../plan/run-journal.js';

/** The note line marking one base image: `# xenkit-base-image: PATH MODE`. */
export const BASE_NOTE = '# xenkit-base-image:';

const BASE_HEADER = [
  '# xenkit: the images marked below back linked clones (qcow2 overlays): they are read-only',
  '# (mode 0400, immutable flag) and must not change, or the clones break. `xenkit list-images`',
  '# shows the clones; `xenkit delete-image` refuses this guest while they exist.',
];

/** One base image recorded in a cfg, with the mode it had before. */
export interface BaseMark {
  image: string;
  mode: number;
}

/** The base images a cfg text records. */
export function readBaseMarks(cfgText: string): BaseMark[] {
  const marks: BaseMark[] = [];
  // A listing asks every cfg; almost none has a note, and splitting each into lines is garbage.
  if (!cfgText.includes(BASE_NOTE)) return marks;
  for (const line of cfgText.split('\n')) {
    if (!line.startsWith(BASE_NOTE)) continue;
    const rest = line.slice(BASE_NOTE.length).trim();
    const space = rest.lastIndexOf(' ');
    if (space <= 0) continue;
    marks.push({ image: rest.slice(0, space), mode: Number.parseInt(rest.slice(space + 1), 8) });
  }
  return marks;
}

/** The cfg text with notes for `marks` added (once each). */
export function addBaseMarks(cfgText: string, marks: readonly BaseMark[]): string {
  const known = new Set(readBaseMarks(cfgText).map((m) => m.image));
  const fresh = marks.filter((m) => !known.has(m.image));
  if (fresh.length === 0) return cfgText;
  const header = cfgText.includes(BASE_HEADER[0] as string) ? [] : BASE_HEADER;
  const lines = fresh.map((m) => `${BASE_NOTE} ${m.image} ${m.mode.toString(8).padStart(4, '0')}`);
  return `${cfgText.replace(/\n*$/, '\n')}\n${[...header, ...lines].join('\n')}\n`;
}

/** The cfg text without the base notes. */
export function removeBaseMarks(cfgText: string): string {
  const lines = cfgText.split('\n').filter((l) => !l.startsWith(BASE_NOTE) && !BASE_HEADER.includes(l));
  return lines.join('\n').replace(/\n{3,}$/, '\n\n');
}

/**
 * Makes `images` read-only and records them in the source cfg; the undo restores modes, flags
 * and the cfg. Images marked before keep their recorded mode.
 */
export async function markBaseImages(
  cfgPath: string,
  images: readonly string[],
  ctx: StepContext,
): Promise<void> {
  const text = fs.readFileSync(cfgPath, 'utf8');
  const known = new Map(readBaseMarks(text).map((m) => [m.image, m]));
  const marks: BaseMark[] = [];
  for (const image of images) {
    const mode = known.get(image)?.mode ?? fs.statSync(image).mode & 0o7777;
    marks.push({ image, mode });
    if (known.has(image)) continue;
    const id = identityOf(fs.statSync(image));
    const modeIntent = ctx.undo.expect(`restore the mode of ${image}`, {
      kind: 'mode',
      path: image,
      mode,
      ...id,
    });
    fs.chmodSync(image, 0o400);
    ctx.undo.push(`restore the mode of ${image}`, () => fs.chmodSync(image, mode), modeIntent);
    const flagIntent = ctx.undo.expect(`clear the immutable flag of ${image}`, {
      kind: 'immutable',
      path: image,
      ...id,
    });
    const flagged = await setImmutable(image, true, { sink: ctx.sink });
    if (flagged)
      ctx.undo.push(
        `clear the immutable flag of ${image}`,
        () => setImmutable(image, false).then(() => undefined),
        flagIntent,
      );
    else flagIntent.cancel();
  }
  const next = addBaseMarks(text, marks);
  if (next !== text) await writeFileAtomically(cfgPath, next, fs.statSync(cfgPath).mode & 0o7777, ctx);
}

/** Gives base images back their mode, clears the flag and drops the notes (no clones left). */
export async function unmarkBaseImages(cfgPath: string, sink?: EventSink): Promise<BaseMark[]> {
  const text = fs.readFileSync(cfgPath, 'utf8');
  const marks = readBaseMarks(text);
  for (const mark of marks) {
    if (!fs.existsSync(mark.image)) continue;
    await setImmutable(mark.image, false, { sink });
    fs.chmodSync(mark.image, mark.mode);
  }
  if (marks.length > 0) fs.writeFileSync(cfgPath, removeBaseMarks(text));
  return marks;
}

/** A qcow2 disk of some guest whose backing file is one of the images asked about. */
export interface LinkedClone {
  name: string;
  cfgPath: string;
  image: string;
  backing: string;
}

/** The domain configs in the xen directory (xen-list-images' filter: no backups, no xl.conf). */
export function listCfgFiles(dir: string, extension = '.cfg'): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const normal = path.normalize(dir);
  const prefix = normal.endsWith(path.sep) ? normal : normal + path.sep;
  return (
    entries
      .filter(
        (e) => e.name.endsWith(extension) && !/~$|\.dpkg-[a-z]+$|\.sxp$/.test(e.name) && e.name !== 'xl.conf',
      )
      // The directory entry's type answers for a plain file (node lstats an entry of unknown
      // type itself): only a link needs a stat, not each of a thousand cfgs.
      .filter(
        (e) =>
          e.isFile() ||
          (e.isSymbolicLink() &&
            fs.statSync(path.join(dir, e.name), { throwIfNoEntry: false })?.isFile() === true),
      )
      // The directory once, not path.join per entry: a name from readdir has no slash to normalize.
      .map((e) => prefix + e.name)
      .sort()
  );
}

/** The backing file of a qcow2 image (resolved to an absolute path), or undefined. */
export async function backingFileOf(image: string, sink?: EventSink): Promise<string | undefined> {
  const info = await readImageInfo(image, { sink });
  if (!info.backingFile) return undefined;
  return path.resolve(path.dirname(image), info.backingFile);
}

/** Every qcow2 disk of every guest cfg that is backed by one of `images`. */
export async function findLinkedClones(
  paths: Paths,
  images: readonly string[],
  sink?: EventSink,
): Promise<LinkedClone[]> {
  const wanted = new Set(images.map((i) => path.resolve(i)));
  const clones: LinkedClone[] = [];
  for (const cfgPath of listCfgFiles(paths.xenDir)) {
    let disks;
    try {
      disks = guestDisksOf(paths, parseXlCfg(fs.readFileSync(cfgPath, 'utf8'), cfgPath));
    } catch {
      continue;
    }
    for (const disk of disks) {
      if (!disk.isFile || !isQcow2File(disk.path)) continue;
      const backing = await backingFileOf(disk.path, sink).catch(() => undefined);
      if (backing && wanted.has(backing)) {
        clones.push({
          name: path.basename(cfgPath).replace(/\.[^.]*$/, ''),
          cfgPath,
          image: disk.path,
          backing,
        });
      }
    }
  }
  return clones;
}

const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]);
// One buffer for every check: a listing reads the first bytes of each disk of each guest.
const head = Buffer.alloc(QCOW2_MAGIC.length);

function startsWithQcow2Magic(fd: number): boolean {
  const read = fs.readSync(fd, head, 0, head.length, 0);
  return read === head.length && head.equals(QCOW2_MAGIC);
}

/** Whether `file` starts with the qcow2 magic (`QFI\xfb`). */
export function isQcow2File(file: string): boolean {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      return startsWithQcow2Magic(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}
