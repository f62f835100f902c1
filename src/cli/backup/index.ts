/** `xenkit backup`: create, list, verify, restore and prune snapshots in a backup repository. */
import type { Command } from 'commander';
import type { ImageCommandDeps } from '../images/deps.js';
import { addBackupCreate } from './create.js';
import { addBackupExport } from './export.js';
import { addBackupList } from './list.js';
import { addBackupPrune } from './prune.js';
import { addBackupRestore } from './restore.js';
import { addBackupVerify } from './verify.js';

/** Adds `backup` and its verbs to `program`. */
export function addBackupCommands(program: Command, deps: ImageCommandDeps): void {
  const backup = program
    .command('backup')
    .summary('back up, verify, restore and prune guests (a deduplicating repository)')
    .description(
      'A backup repository of plain files (default /var/lib/xenkit/backups, or --repo DIR): each snapshot ' +
        "is a guest's cfg and images in SHA-256-named, compressed 4 MiB chunks, each stored once.",
    );
  addBackupCreate(backup, deps);
  addBackupList(backup, deps);
  addBackupVerify(backup, deps);
  addBackupRestore(backup, deps);
  addBackupPrune(backup, deps);
  addBackupExport(backup, deps);
}
