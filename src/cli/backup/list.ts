/** `xenkit backup list [NAME]`: the snapshots in the repository. */
import type { Command } from 'commander';
import { listSnapshotIds, readManifest } from '../../backup/manifest.js';
import { openRepository } from '../../backup/repository.js';
import { assertGuestName } from '../../model/guest-name.js';
import { pathsFor, writeJson, type ImageCommandDeps } from '../images/deps.js';
import { humanBytes, KEY_HELP, REPO_HELP, repoDirFor, repoSecretFor, type RepoFlags } from './common.js';

interface ListedSnapshot {
  id: string;
  guest: string;
  time: string;
  logicalBytes: number;
  newBytes: number;
  disks: number;
  damaged?: string;
}

/** Registers `backup list`. */
export function addBackupList(backup: Command, deps: ImageCommandDeps): void {
  backup
    .command('list')
    .summary('list the snapshots (of one guest)')
    .description(
      "List the snapshots in the repository, oldest first: id, guest, time, logical size (the images' " +
        'virtual sizes) and the bytes that snapshot added to the repository.',
    )
    .argument('[name]', 'only the snapshots of this guest')
    .option('--repo <dir>', REPO_HELP)
    .option('--encryption-key <file>', KEY_HELP)
    .option('--json', 'print the result as JSON')
    .option('--root <dir>', 'work under DIR instead of / (also XENKIT_ROOT)')
    .action(async (name: string | undefined, flags: RepoFlags) => {
      if (name !== undefined) assertGuestName(name, 'command line');
      const paths = pathsFor(deps, flags.root);
      const repo = openRepository(repoDirFor(paths, flags.repo), repoSecretFor(paths, flags.encryptionKey));
      const snapshots: ListedSnapshot[] = [];
      for (const id of await listSnapshotIds(repo)) {
        try {
          const m = await readManifest(repo, id);
          if (name !== undefined && m.guest !== name) continue;
          snapshots.push({
            id,
            guest: m.guest,
            time: m.time,
            logicalBytes: m.stats.logicalBytes,
            newBytes: m.stats.newBytes,
            disks: m.disks.length,
          });
        } catch (error) {
          if (name === undefined || id.startsWith(`${name}-`))
            snapshots.push({
              id,
              guest: '?',
              time: '?',
              logicalBytes: 0,
              newBytes: 0,
              disks: 0,
              damaged: (error as Error).message,
            });
        }
      }
      if (flags.json) return writeJson(deps.io, { ok: true, repo: repo.dir, snapshots });
      if (snapshots.length === 0) {
        deps.io.stdout.write(`No snapshots${name ? ` of ${name}` : ''} in ${repo.dir}\n`);
        return;
      }
      const rows = snapshots.map((s) => [
        s.id,
        s.guest,
        s.time.replace(/\.\d+Z$/, 'Z'),
        s.damaged ? 'DAMAGED' : humanBytes(s.logicalBytes),
        s.damaged ? '' : humanBytes(s.newBytes),
      ]);
      const head = ['ID', 'GUEST', 'TIME', 'SIZE', 'ADDED'];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      const line = (r: string[]): string =>
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd();
      deps.io.stdout.write(`${[line(head), ...rows.map(line)].join('\n')}\n`);
    });
}
