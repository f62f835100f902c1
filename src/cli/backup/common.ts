/** What every `xenkit backup` verb shares: the repository flag, the plan runner, sizes for humans. */
import { readFileSync } from 'node:fs';
import { MIN_KEY_BYTES } from '../../backup/encryption.js';
import type { RepoSecret } from '../../backup/repository.js';
import { usageError } from '../../errors.js';
import { defaultRepoDir } from '../../images/backup-guest.js';
import { runJournalOptions } from '../../images/recover.js';
import type { Paths } from '../../paths.js';
import { underRoot } from '../../paths.js';
import { executePlan } from '../../plan/executor.js';
import { planToJSON, type Plan } from '../../plan/plan.js';
import { writeJson, type ImageCommandDeps } from '../images/deps.js';
import { chooseProgressMode, createProgressReporter } from '../progress.js';
import { renderPlan } from '../render-plan.js';
import { withSignalAbort } from '../signals.js';

export interface RepoFlags {
  repo?: string;
  encryptionKey?: string;
  root?: string;
  json?: boolean;
}

export const REPO_HELP = 'the backup repository (default /var/lib/xenkit/backups under the root)';
export const KEY_HELP =
  'the key file of an encrypted repository (at least 32 random bytes: head -c 32 /dev/urandom > FILE; ' +
  'keep a copy elsewhere, nothing restores without it); given to the create that makes a repository, ' +
  'makes it encrypted';

/** The key file of `--encryption-key` (placed under the root), read; E_BACKUP_KEY when unusable. */
export function repoSecretFor(paths: Paths, flag: string | undefined): RepoSecret | undefined {
  if (flag === undefined) return undefined;
  const file = underRoot(paths, flag);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw usageError(
      'E_BACKUP_KEY',
      `--encryption-key ${flag}: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      'give the key file the repository was made with',
    );
  }
  if (bytes.length < MIN_KEY_BYTES) {
    throw usageError(
      'E_BACKUP_KEY',
      `--encryption-key ${flag} holds ${bytes.length} bytes, fewer than ${MIN_KEY_BYTES}`,
      `make a key with: head -c ${MIN_KEY_BYTES} /dev/urandom > FILE (and keep a copy elsewhere)`,
    );
  }
  return { file: flag, bytes };
}

/** The repository directory of `--repo` (placed under the root), else the default. */
export function repoDirFor(paths: Paths, flag: string | undefined): string {
  return flag ? underRoot(paths, flag) : defaultRepoDir(paths);
}

/** Prints the plan (`--dry-run`) as text or JSON. */
export function printPlan(deps: ImageCommandDeps, plan: Plan, json: boolean): void {
  if (json) writeJson(deps.io, { ok: true, dryRun: true, plan: planToJSON(plan) });
  else deps.io.stdout.write(renderPlan(plan));
}

/**
 * Runs `plan` with progress on stderr (none with --json or --quiet), cancelled by SIGINT/SIGTERM;
 * with `journal`, journaled, so that the next run removes what a killed one left.
 */
export async function runPlan(
  deps: ImageCommandDeps,
  plan: Plan,
  flags: { json?: boolean; quiet?: boolean },
  journal?: { paths: Paths; name: string },
): Promise<void> {
  const reporter = createProgressReporter(
    deps.io.stderr,
    chooseProgressMode(deps.io.stderr as NodeJS.WriteStream, flags.quiet === true || flags.json === true),
  );
  try {
    await withSignalAbort((signal) =>
      executePlan(plan, {
        reporter,
        signal,
        failAfter: (deps.env ?? process.env).XENKIT_FAILPOINT,
        ...(journal ? { journal: runJournalOptions(journal.paths, journal.name) } : {}),
      }),
    );
  } finally {
    reporter.stop();
  }
}

/** `1.23 GiB`-style size. */
export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2)} ${units[unit]}`;
}
