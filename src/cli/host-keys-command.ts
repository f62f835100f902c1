/** `xenkit cache host-keys [status|fill|clear]`: the pool of spare RSA host keys (host-key-pool.ts). */
import type { Command } from 'commander';
import {
  clearPool,
  fillPool,
  hostKeyPoolDir,
  MAX_POOL_SIZE,
  poolStatus,
} from '../customize/host-key-pool.js';
import { usageError } from '../errors.js';
import { makePaths, resolveRoot } from '../paths.js';
import { withSignalAbort } from './signals.js';
import type { CliIO } from './run-cli.js';

interface Flags {
  root?: string;
  json?: boolean;
}

/** Parses `--count`: a whole number from 1 to MAX_POOL_SIZE. */
export function parsePoolSize(text: string): number {
  const size = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isInteger(size) || size < 1 || size > MAX_POOL_SIZE) {
    throw usageError(
      'E_POOL_SIZE',
      `--count "${text}" is not a number of keys from 1 to ${MAX_POOL_SIZE}`,
      `say how many spare keys to keep, e.g. --count 4 (to empty the pool: xenkit cache host-keys clear)`,
    );
  }
  return size;
}

/** Adds `host-keys` under the `cache` command. */
export function addHostKeyCommands(
  cache: Command,
  deps: { io: CliIO; env?: NodeJS.ProcessEnv },
  common: (c: Command) => Command,
): void {
  const dirOf = (flags: Flags): string =>
    hostKeyPoolDir(makePaths(resolveRoot(flags.root, deps.env ?? process.env)).cacheDir);
  const out = (flags: Flags, json: unknown, text: string): void => {
    deps.io.stdout.write(flags.json ? JSON.stringify(json, null, 2) + '\n' : text);
  };
  const keys = cache
    .command('host-keys')
    .description('spare RSA host keys made ahead, so clones and new guests need not wait for one')
    .addHelpText(
      'after',
      '\nAn RSA 3072 host key takes 0.3-2 s to make; every guest needs a new one. clone and\n' +
        'create-image take their RSA key from the pool when it has one, and at their end start a niced\n' +
        'background refill up to the pool size (4 unless fill --count recorded another; one filler at\n' +
        'a time). clear empties the pool and stops the refills until the next fill; XENKIT_HOST_KEY_POOL=off\n' +
        'stops them for one command. Keys are made from the host CSPRNG, stored root-only (0700\n' +
        'directory, 0600 files) and each is given out once. ed25519 and ECDSA keys are always made on the spot.',
    );

  common(keys.command('status', { isDefault: true }).description('how many spare keys there are')).action(
    (flags: Flags) => {
      const status = poolStatus(dirOf(flags));
      const text =
        status.size === 0 && status.keys === 0
          ? `host key pool ${status.dir}: off, cleared (turn it on again: xenkit cache host-keys fill)\n`
          : `host key pool ${status.dir}: ${status.keys} of ${status.size} spare RSA keys` +
            `${status.filling ? ' (filling)' : ''}\n`;
      out(flags, { ok: true, ...status }, text);
    },
  );

  common(
    keys
      .command('fill')
      .description('make spare keys until the pool holds COUNT; later refills keep it at COUNT')
      .option('--count <n>', `how many spare keys to keep (1-${MAX_POOL_SIZE}; default: as before, else 4)`)
      .option('--background', 'top up to the recorded size; do nothing if a fill is running (refills use it)')
      .option('--quiet', 'no progress output'),
  ).action(async (flags: Flags & { count?: string; background?: boolean; quiet?: boolean }) => {
    const size = flags.count === undefined ? undefined : parsePoolSize(flags.count);
    const dir = dirOf(flags);
    const progress = !flags.quiet && !flags.json && !flags.background;
    const result = await withSignalAbort((signal) =>
      fillPool(
        dir,
        { ...(size === undefined ? {} : { size }), background: flags.background === true },
        {
          signal,
          onKey: (made, wanted) => {
            if (progress) deps.io.stderr.write(`made key ${made} of ${wanted}\n`);
          },
        },
      ),
    );
    const text = result.skipped
      ? `host key pool ${dir}: another fill is running\n`
      : `host key pool ${dir}: ${result.made} key${result.made === 1 ? '' : 's'} made, ${result.keys} of ${result.size} spare\n`;
    out(flags, { ok: true, ...result }, text);
  });

  common(keys.command('clear').description('remove every spare key and stop refilling')).action(
    async (flags: Flags) => {
      const dir = dirOf(flags);
      const result = await clearPool(dir);
      out(flags, { ok: true, dir, ...result }, `host key pool ${dir}: ${result.removed} keys removed\n`);
    },
  );
}
