/**
 * `/etc/xenkit/hosts`: named libvirt hosts, one `NAME URI` per line (`#` starts a comment).
 * `--host NAME` on the domain commands means `--driver libvirt --connect URI`. Written whole
 * through a temporary file renamed into place, under a lock, so a reader never sees half a file
 * and two `hosts add` never lose each other's line.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { usageError } from '../errors.js';
import { acquireLock } from '../plan/lock-file.js';

/** One named host. */
export interface HostEntry {
  name: string;
  uri: string;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const URI_RE = /^[a-z][a-z0-9+.-]*:\/\/\S*$/i;

/** `name` when it is a valid host name; E_HOST (exit 2) otherwise. */
export function checkHostName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw usageError(
      'E_HOST',
      `host name "${name}" is not a name (letters, digits, ".", "_", "-"; up to 63)`,
      'e.g. xenkit hosts add node2 qemu+ssh://node2/system',
    );
  }
  return name;
}

/** `uri` when it looks like a libvirt URI (`DRIVER[+TRANSPORT]://[HOST]/PATH`); E_HOST otherwise. */
export function checkHostUri(uri: string): string {
  if (!URI_RE.test(uri)) {
    throw usageError(
      'E_HOST',
      `"${uri}" is not a libvirt URI`,
      'e.g. qemu:///system or qemu+ssh://root@node2/system',
    );
  }
  return uri;
}

/** Parses the hosts file; a malformed line is an error naming the file and line. */
export function parseHostsFile(text: string, file: string): HostEntry[] {
  const hosts: HostEntry[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const [name = '', uri = '', ...rest] = line.split(/\s+/);
    if (rest.length > 0 || !NAME_RE.test(name) || !URI_RE.test(uri)) {
      throw usageError(
        'E_HOST',
        `${file}:${index + 1}: "${line}" is not "NAME URI"`,
        'fix or remove the line',
      );
    }
    hosts.push({ name, uri });
  });
  return hosts;
}

/** The hosts file as text. */
export function renderHostsFile(hosts: readonly HostEntry[]): string {
  return [
    '# libvirt hosts of xenkit: NAME URI (xenkit hosts add/remove)',
    ...hosts.map((h) => `${h.name} ${h.uri}`),
    '',
  ].join('\n');
}

/** Reads the hosts; no file means none. */
export async function readHosts(file: string): Promise<HostEntry[]> {
  try {
    return parseHostsFile(await readFile(file, 'utf8'), file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** The host called `name`; E_HOST (exit 2) naming it when there is none. */
export async function findHost(file: string, name: string): Promise<HostEntry> {
  const host = (await readHosts(file)).find((h) => h.name === name);
  if (!host) {
    throw usageError(
      'E_HOST',
      `no host "${name}" in ${file}`,
      `\`xenkit hosts list\` shows the hosts; \`xenkit hosts add ${name} URI\` adds it`,
    );
  }
  return host;
}

function writeAtomically(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.new-${process.pid}`);
  const fd = openSync(temp, 'wx', 0o644);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

/** Changes the hosts file under its lock: `change` gets the hosts and returns the new list. */
export async function updateHosts(
  file: string,
  lockDir: string,
  change: (hosts: HostEntry[]) => HostEntry[],
): Promise<HostEntry[]> {
  const lock = await acquireLock(path.join(lockDir, 'hosts.lock'), 'the hosts file', 5000);
  try {
    const next = change(await readHosts(file));
    writeAtomically(file, renderHostsFile(next));
    return next;
  } finally {
    lock.release();
  }
}
