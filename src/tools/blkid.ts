/** blkid: what a device or image file holds (filesystem type, UUID, label), probed directly. */
import { runCommand, type ExecOptions } from './exec.js';

/** What blkid found on a device or image. */
export interface BlockIdentity {
  /** `ext4`, `xfs`, `btrfs`, `swap`, ... */
  type: string | undefined;
  uuid: string | undefined;
  label: string | undefined;
  /** `filesystem`, `other` (swap), `raid`, ... */
  usage: string | undefined;
}

/** The argv that probes `path`: low-level (`-p`), so the blkid cache is neither read nor written. */
export function blkidArgv(path: string): string[] {
  return ['blkid', '-p', '-o', 'export', path];
}

/** Parses `blkid -o export` output (KEY=value lines, values may carry backslash escapes). */
export function parseBlkidExport(text: string): BlockIdentity {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    fields.set(line.slice(0, eq), line.slice(eq + 1).replace(/\\(.)/g, '$1'));
  }
  return {
    type: fields.get('TYPE'),
    uuid: fields.get('UUID'),
    label: fields.get('LABEL'),
    usage: fields.get('USAGE'),
  };
}

/** Probes `path`; undefined when blkid recognises nothing on it (its exit status 2). */
export async function probeBlock(
  path: string,
  options: ExecOptions = {},
): Promise<BlockIdentity | undefined> {
  const result = await runCommand(blkidArgv(path), { ...options, allowFailure: true });
  if (result.exitCode === 2) return undefined;
  if (result.exitCode !== 0) {
    // Let runCommand build the usual E_EXEC error with the tail of blkid's output.
    await runCommand(blkidArgv(path), options);
  }
  return parseBlkidExport(result.stdout);
}
