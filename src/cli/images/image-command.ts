/**
 * One image command under its two names (`xenkit delete-image` and `xen-delete-image`): a single
 * option table feeds commander for the first, the Getopt::Long parser for the second, both
 * --help texts and so the man pages; both end in the same `run`.
 */
import { Command, Option } from 'commander';
import type { OptionDef } from '../../config/options.js';
import type { Paths } from '../../paths.js';
import type { CompatArgs } from './compat-args.js';
import { pathsFor, type ImageCommandDeps } from './deps.js';

/** What a run is given, whichever name the command was called by. */
export interface ImageCommandInput {
  /** The options by table key (lists for `list` rows). */
  values: CompatArgs['values'];
  /** The arguments that are not options. */
  names: string[];
  paths: Paths;
  deps: ImageCommandDeps;
  /** The command as hints and logs name it: `xenkit` or `xen-delete-image`. */
  prog: string;
  /** Called by its xen-tools name: xen-tools' defaults apply (storage from xen-tools.conf, ...). */
  isXenTools: boolean;
}

/** An image command: its option table, the texts of its two front-ends, and what it does. */
export interface ImageCommand {
  /** The xenkit subcommand: `delete-image`. */
  name: string;
  /** The xen-tools name: `xen-delete-image`. */
  xenTools: string;
  /** The options both names take (each adds its own help and version options). */
  options: readonly OptionDef[];
  /** The subcommand's arguments in commander's syntax (`<names...>`) with their help. */
  args: readonly (readonly [string, string])[];
  summary: string;
  description: string;
  /** The xen-tools name's usage line and what its --help says it does. */
  synopsis: string;
  about: string;
  run(input: ImageCommandInput): Promise<number>;
}

/** The commander option of a table row (`no-x` rows are commander negations: x becomes false). */
function commanderOption(def: OptionDef): Option {
  const value = def.valueName ?? 'VALUE';
  const flags =
    def.kind === 'flag' || def.kind === 'negatable'
      ? `--${def.name}`
      : def.kind === 'optional'
        ? `--${def.name} [${value}]`
        : `--${def.name} <${value}>`;
  const option = new Option(flags, def.help);
  if (def.kind === 'list') option.argParser((v: string, previous: string[] = []) => [...previous, v]);
  return option;
}

/** The table's values from commander's parsed options, keyed as the Getopt parser keys them. */
function valuesOf(opts: Record<string, unknown>, table: readonly OptionDef[]): CompatArgs['values'] {
  const values: CompatArgs['values'] = new Map();
  for (const def of table) {
    const given = opts[commanderOption(def).attributeName()];
    if (def.kind === 'flag' && def.name.startsWith('no-')) {
      if (given === false) values.set(def.key, true);
    } else if (given === true && def.kind === 'optional') values.set(def.key, '');
    else if (given !== undefined) values.set(def.key, given as string | boolean | string[]);
  }
  return values;
}

/** Registers `command` as a subcommand of `program` (xenkit). */
export function addImageCommand(program: Command, command: ImageCommand, deps: ImageCommandDeps): void {
  const sub = program.command(command.name).summary(command.summary).description(command.description);
  for (const [syntax, help] of command.args) sub.argument(syntax, help);
  for (const def of command.options) sub.addOption(commanderOption(def));
  sub.action(async (...args: unknown[]) => {
    const self = args.at(-1) as Command;
    const values = valuesOf(self.opts(), command.options);
    const names = args.slice(0, -2).flatMap((a) => (a === undefined ? [] : (a as string | string[])));
    const code = await command.run({
      values,
      names,
      paths: pathsFor(deps, values.get('root') as string | undefined),
      deps,
      prog: deps.prog ?? 'xenkit',
      isXenTools: false,
    });
    if (code !== 0) process.exitCode = code;
  });
}
