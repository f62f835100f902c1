/** `xenkit backup prune --keep-last N [NAME]`: forget old snapshots, free unreferenced chunks. */
import type { Command } from 'commander';
import { applyPrune, choosePrune, readAllManifests, unreferencedChunks } from '../../backup/prune.js';
import { lockRepository, openRepository, sweepTemporaries } from '../../backup/repository.js';
import { runtimeError, usageError } from '../../errors.js';
import { assertGuestName } from '../../model/guest-name.js';
import { pathsFor, writeJson, type ImageCommandDeps } from '../images/deps.js';
import { withSignalAbort } from '../signals.js';
import { humanBytes, KEY_HELP, REPO_HELP, repoDirFor, repoSecretFor, type RepoFlags } from './common.js';

interface PruneFlags extends RepoFlags {
  keepLast?: string;
  dryRun?: boolean;
}

/** Registers `backup prune`. */
export function addBackupPrune(backup: Command, deps: ImageCommandDeps): void {
  backup
    .command('prune')
    .summary('forget old snapshots, free the chunks nothing needs')
    .description(
      'Keep the newest N snapshots of each guest (of NAME only, when given), forget the others, then ' +
        'delete every chunk no remaining snapshot names (also those a killed backup left). Manifests go ' +
        'first, chunks after: a prune killed half-way leaves a consistent repository.',
    )
    .argument('[name]', 'prune only the snapshots of this guest')
    .requiredOption('--keep-last <n>', 'how many snapshots of each guest to keep (at least 1)')
    .option('--repo <dir>', REPO_HELP)
    .option('--encryption-key <file>', KEY_HELP)
    .option('--dry-run', 'print what would go and change nothing')
    .option('--json', 'print the result as JSON')
    .option('--root <dir>', 'work under DIR instead of / (also XENKIT_ROOT)')
    .action(async (name: string | undefined, flags: PruneFlags) => {
      const keepLast = Number(flags.keepLast);
      if (!/^\d+$/.test(flags.keepLast ?? '') || keepLast < 1) {
        throw usageError(
          'E_USAGE',
          `--keep-last "${flags.keepLast ?? ''}" is not a whole number of at least 1`,
          'e.g. --keep-last 7',
        );
      }
      if (name !== undefined) assertGuestName(name, 'command line');
      const paths = pathsFor(deps, flags.root);
      const repo = openRepository(repoDirFor(paths, flags.repo), repoSecretFor(paths, flags.encryptionKey));
      const lock = await lockRepository(repo);
      try {
        const { manifests, damaged } = await readAllManifests(repo);
        if (damaged.length > 0) {
          throw runtimeError(
            'E_SNAPSHOT_DAMAGED',
            `snapshot ${damaged.join(', ')} in ${repo.dir} cannot be read; prune frees nothing while it cannot tell what it needs`,
            'xenkit backup verify names the damage; remove the damaged manifest by hand if it is lost for good',
          );
        }
        const choice = choosePrune(manifests, keepLast, name);
        if (flags.dryRun) {
          const kept = manifests.filter((m) => choice.keep.includes(m.id));
          const free = await unreferencedChunks(repo, kept);
          if (flags.json)
            return writeJson(deps.io, { ok: true, dryRun: true, ...choice, chunksToFree: free.length });
          deps.io.stdout.write(
            `Would forget ${choice.forget.length} snapshot(s)${choice.forget.map((id) => `\n  ${id}`).join('')}\n` +
              `would keep ${choice.keep.length} and free ${free.length} chunk(s)\n`,
          );
          return;
        }
        const swept = await sweepTemporaries(repo);
        const freed = await withSignalAbort((signal) =>
          applyPrune(repo, choice.forget, signal, (deps.env ?? process.env).XENKIT_FAILPOINT),
        );
        if (flags.json)
          return writeJson(deps.io, {
            ok: true,
            ...choice,
            freedChunks: freed.chunks,
            freedBytes: freed.bytes,
            temporaries: swept,
          });
        deps.io.stdout.write(
          `Forgot ${choice.forget.length} snapshot(s), kept ${choice.keep.length}; freed ${freed.chunks} chunk(s), ${humanBytes(freed.bytes)}\n`,
        );
      } finally {
        lock.release();
      }
    });
}
