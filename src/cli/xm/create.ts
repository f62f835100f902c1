/** `xm create [-c] [-p] CFG|NAME`: start a domain from its config, optionally on its console. */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { runtimeError, usageError } from '../../errors.js';
import { underRoot, type Paths } from '../../paths.js';
import type { DomainInfo } from '../../hypervisors/driver.js';
import { attachConsole } from './console.js';
import type { DomainCommandDeps } from './deps.js';
import { addCommonOptions, flagsOf, Session } from './session.js';

async function isFile(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined))?.isFile() ?? false;
}

/**
 * Finds the config meant by CFG|NAME, as xm did: the path as given, the same path under the
 * root, then /etc/xen/ARG and /etc/xen/ARG.cfg.
 */
export async function resolveCfgArg(paths: Paths, arg: string, prog = 'xm'): Promise<string> {
  // With a root, an absolute path means the file inside it (as everywhere in xenkit); the host's
  // own file of that name is only a fallback (e.g. a cfg already given with the root prefix).
  const candidates = [
    ...(path.isAbsolute(arg) ? [underRoot(paths, arg)] : []),
    path.resolve(arg),
    ...(arg.includes('/') ? [] : [path.join(paths.xenDir, arg), path.join(paths.xenDir, `${arg}.cfg`)]),
  ];
  const unique = [...new Set(candidates)];
  for (const candidate of unique) if (await isFile(candidate)) return candidate;
  const name = path.basename(arg).replace(/\.cfg$/, '');
  throw usageError(
    'E_NO_CFG',
    `no domain config "${arg}": tried ${unique.join(', ')}`,
    `\`${prog} list --all\` shows the defined guests; \`xen-create-image --hostname=${name}\` makes one`,
  );
}

/** Starts the domain of `arg`; the caller decides about the console. */
export async function startDomain(
  session: Session,
  arg: string,
  paused: boolean,
  overrides: readonly string[] = [],
): Promise<DomainInfo> {
  const cfgPath = await resolveCfgArg(session.paths, arg, session.prog);
  const config = await session.loadConfig(cfgPath, overrides);
  const driver = await session.driver();
  const running = (await driver.list()).find((domain) => domain.name === config.name);
  if (running) {
    throw runtimeError(
      'E_DOMAIN_RUNNING',
      `domain "${config.name}" is already running (id ${running.id})`,
      `\`${session.prog} console ${config.name}\` attaches to it; \`${session.prog} shutdown ${config.name}\` stops it`,
    );
  }
  if (!session.json) session.print(`Using config file "${cfgPath}".`);
  return driver.create(config, { cfgPath, paused, overrides });
}

/** Registers `create`. */
export function addCreateCommand(program: Command, deps: DomainCommandDeps): void {
  const command = program
    .command('create')
    .summary('start a domain from its config file')
    .description(
      'Start a domain from CFG (a path) or NAME (/etc/xen/NAME.cfg under the root). ' +
        'With -c, attach to its console right away (Ctrl-] detaches); with -p, leave it paused.',
    )
    .argument('<cfg>', 'config file, or the name of a domain in /etc/xen')
    .argument(
      '[key=value...]',
      "settings read after the file's own lines (e.g. memory=512 vcpus=2), as xl create takes them",
    )
    .option('-c, --console', 'attach to the console after starting')
    .option('-p, --paused', 'leave the domain paused (`unpause` runs it)')
    .option(
      '-n, --dry-run',
      'parse the config (and the key=value settings) and print the domain it describes; start nothing',
    );
  addCommonOptions(command).action(async (arg: string, overrides: string[], _opts: unknown, cmd: Command) => {
    const flags = flagsOf<{ console: boolean; paused: boolean; dryRun: boolean }>(cmd);
    const session = new Session(deps, flags);
    for (const setting of overrides) {
      if (!/^\s*[A-Za-z_][A-Za-z0-9_]*\s*=/.test(setting)) {
        throw usageError(
          'E_ARG',
          `"${setting}" is not a key=value setting`,
          'e.g. xm create test2 memory=512 \'extra="quiet"\'',
        );
      }
    }
    if (flags.dryRun) {
      const cfgPath = await resolveCfgArg(session.paths, arg, session.prog);
      const config = await session.loadConfig(cfgPath, overrides);
      // What xl create -n does: the parsed domain, as JSON, and nothing started.
      session.deps.io.stdout.write(`${JSON.stringify({ cfgPath, config }, null, 2)}\n`);
      return;
    }
    const domain = await startDomain(session, arg, flags.paused === true, overrides);
    session.report(
      `Started domain ${domain.name} (id=${domain.id})${flags.paused ? `, paused: \`${session.prog} unpause ${domain.name}\` runs it` : ''}`,
      { ok: true, action: 'create', domain },
    );
    if (flags.console) await attachConsole(session, domain.name);
  });
}
