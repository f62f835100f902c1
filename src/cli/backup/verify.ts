/** `xenkit backup verify [ID...]`: re-read and re-hash every manifest and chunk; exit 1 on damage. */
import type { Command } from 'commander';
import { assertSnapshotId, listSnapshotIds } from '../../backup/manifest.js';
import { lockRepository, openRepository } from '../../backup/repository.js';
import { verifyRepository } from '../../backup/verify.js';
import { usageError } from '../../errors.js';
import { pathsFor, writeJson, type ImageCommandDeps } from '../images/deps.js';
import { withSignalAbort } from '../signals.js';
import { humanBytes, KEY_HELP, REPO_HELP, repoDirFor, repoSecretFor, type RepoFlags } from './common.js';

/** Registers `backup verify`. */
export function addBackupVerify(backup: Command, deps: ImageCommandDeps): void {
  backup
    .command('verify')
    .summary('re-read and re-hash every chunk; name what is damaged')
    .description(
      'Check the snapshots ID... (default: all): each manifest against its own digest, each chunk it names ' +
        're-read, decompressed and re-hashed against its name. Every damaged or missing chunk is reported with ' +
        'the snapshots and disks that need it; exit status 1 when anything is damaged. Also warns about ' +
        'repository files others can read (they hold password hashes and private host keys).',
    )
    .argument('[ids...]', 'the snapshots to check (default: every one)')
    .option('--repo <dir>', REPO_HELP)
    .option('--encryption-key <file>', KEY_HELP)
    .option('--json', 'print the result as JSON')
    .option('--root <dir>', 'work under DIR instead of / (also XENKIT_ROOT)')
    .action(async (ids: string[], flags: RepoFlags) => {
      const paths = pathsFor(deps, flags.root);
      const repo = openRepository(repoDirFor(paths, flags.repo), repoSecretFor(paths, flags.encryptionKey));
      const known = await listSnapshotIds(repo);
      for (const id of ids) {
        if (!known.includes(assertSnapshotId(id))) {
          throw usageError(
            'E_NO_SNAPSHOT',
            `no snapshot "${id}" in ${repo.dir}`,
            'xenkit backup list shows the snapshots',
          );
        }
      }
      // Under the lock: a prune running meanwhile would make freed chunks look missing.
      const lock = await lockRepository(repo, 60_000);
      let report;
      try {
        report = await withSignalAbort((signal) => verifyRepository(repo, ids, signal));
      } finally {
        lock.release();
      }
      const ok = report.problems.length === 0;
      if (flags.json) writeJson(deps.io, { ok, repo: repo.dir, ...report });
      else {
        for (const p of report.problems) {
          deps.io.stderr.write(
            `xenkit: damaged: snapshot ${p.snapshot}${p.disk ? `, disk ${p.disk}` : ''}: ${p.message}\n`,
          );
        }
        for (const e of report.exposed)
          deps.io.stderr.write(`xenkit: warning: ${e} is readable by other users (chmod go= it)\n`);
        deps.io.stdout.write(
          `${ok ? 'OK' : 'DAMAGED'}: ${report.snapshots} snapshot(s), ${report.chunks} chunk(s), ${humanBytes(report.bytes)} checked` +
            `${ok ? '' : `, ${report.problems.length} problem(s)`}\n`,
        );
      }
      if (!ok) process.exitCode = 1;
    });
}
