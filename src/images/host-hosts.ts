/**
 * The guest's line in dom0's /etc/hosts. xen-tools adds `IP    FQDN SHORT` for a guest with a
 * static address unless --nohosts is given (and not when a line already names the guest); xenkit
 * does the same and marks its line with a comment, so that xen-delete-image and the unwinding of
 * a failed run remove that line and nothing else. The file is rewritten whole through a temporary
 * file and a rename (never half written), under a lock shared by every xenkit command, keeping
 * every other line byte for byte.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { GuestSpec } from '../model/guest-spec.js';
import { underRoot, type Paths } from '../paths.js';
import { withLock } from '../plan/lock-file.js';

/** The comment that marks a line as xenkit's for guest NAME. */
export function hostsMarker(hostname: string): string {
  return `# xenkit guest ${hostname}`;
}

/** The host's /etc/hosts (under the root). */
export function hostHostsPath(paths: Paths): string {
  return underRoot(paths, '/etc/hosts');
}

/** The line to add for the guest, or undefined when xen-tools would add none (DHCP, no address). */
export function hostsLineFor(spec: GuestSpec): string | undefined {
  const address = spec.network.mode === 'static' ? spec.network.addresses[0]?.address : undefined;
  if (address === undefined) return undefined;
  const names = [...new Set([spec.hostname, spec.name])].join(' ');
  return `${address}    ${names}    ${hostsMarker(spec.hostname)}`;
}

/** Whether a non-comment line of `text` already names `hostname`. */
export function namesHost(text: string, hostname: string): boolean {
  return text.split('\n').some((line) => {
    const words = line.replace(/#.*/, '').trim().split(/\s+/);
    return words.length > 1 && words.slice(1).includes(hostname);
  });
}

/** The lines xenkit added for `hostname`. */
export function ownLines(text: string, hostname: string): string[] {
  return text.split('\n').filter((line) => line.trimEnd().endsWith(hostsMarker(hostname)));
}

function lockFile(paths: Paths): string {
  return path.join(paths.lockDir, 'etc-hosts.lock');
}

/** Writes `text` to `file` through a temporary file in the same directory, keeping mode and owner. */
function replaceFile(file: string, text: string): void {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.xenkit-${process.pid}`);
  fs.writeFileSync(temp, text, { mode: st ? st.mode & 0o7777 : 0o644 });
  try {
    if (st) fs.chownSync(temp, st.uid, st.gid);
    const fd = fs.openSync(temp, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, file);
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  }
}

/** The file the name /etc/hosts leads to (a link is written through, as `>>` would). */
function realHostsFile(paths: Paths): string {
  const file = hostHostsPath(paths);
  try {
    return fs.realpathSync(file);
  } catch {
    return file;
  }
}

/**
 * Appends `line` for `hostname` unless a line already names it; says whether it was added and
 * whether the file was made for it (as the shell's `>>` makes it).
 */
export async function addHostsLine(
  paths: Paths,
  hostname: string,
  line: string,
): Promise<{ added: boolean; created: boolean }> {
  fs.mkdirSync(paths.lockDir, { recursive: true, mode: 0o700 });
  return withLock(lockFile(paths), '/etc/hosts', async () => {
    const file = realHostsFile(paths);
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
    if (text !== undefined && namesHost(text, hostname)) return { added: false, created: false };
    const before = text ?? '';
    const glue = before === '' || before.endsWith('\n') ? '' : '\n';
    replaceFile(file, `${before}${glue}${line}\n`);
    return { added: true, created: text === undefined };
  });
}

/**
 * Removes the lines xenkit added for `hostname` (only those); returns how many went. With
 * `dropIfEmpty` (the undo of a run that made the file), a file left empty goes too.
 */
export async function removeHostsLines(paths: Paths, hostname: string, dropIfEmpty = false): Promise<number> {
  const file = realHostsFile(paths);
  if (!fs.existsSync(file)) return 0;
  fs.mkdirSync(paths.lockDir, { recursive: true, mode: 0o700 });
  return withLock(lockFile(paths), '/etc/hosts', async () => {
    const text = fs.readFileSync(file, 'utf8');
    const lines = text.split('\n');
    const kept = lines.filter((l) => !l.trimEnd().endsWith(hostsMarker(hostname)));
    if (kept.length === lines.length) return 0;
    if (dropIfEmpty && kept.join('').trim() === '') fs.rmSync(file, { force: true });
    else replaceFile(file, kept.join('\n'));
    return lines.length - kept.length;
  });
}
