/**
 * A small Getopt::Long work-alike driven by the option table, so xen-tools command lines keep
 * working: `--opt=value`, `--opt value`, `-opt`, `--x`/`--nox`/`--no-x`, repeated lists,
 * case-insensitive names and unique-prefix abbreviations (Getopt::Long's auto_abbrev).
 */
import { ErrorCollector, ValidationErrors, type XenkitError } from '../errors.js';
import type { OptionDef } from './options.js';

/** One option as found on the command line. */
export interface ParsedOption {
  def: OptionDef;
  /** The value: text for valued options, true/false for flags and negatables. */
  value: string | boolean;
  /** The option as typed (`--size`, `-nodhcp`), for messages. */
  flag: string;
}

export interface GetoptOptions {
  /** Program name for hints (`see xen-create-image --help`). */
  program?: string;
}

interface Candidate {
  name: string;
  def: OptionDef;
  negated: boolean;
}

function candidatesOf(table: readonly OptionDef[]): Candidate[] {
  const out: Candidate[] = [];
  for (const def of table) {
    if (def.onCli === false) continue;
    for (const name of [def.name, ...(def.aliases ?? [])]) {
      out.push({ name, def, negated: false });
      if (def.kind === 'negatable') {
        out.push({ name: `no${name}`, def, negated: true });
        out.push({ name: `no-${name}`, def, negated: true });
      }
    }
  }
  return out;
}

/** Edit distance between two strings (insert, delete, substitute: cost 1 each). */
export function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(
        Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost),
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The known name closest to `name`, when it is close enough to be a likely typo. */
export function suggestName(name: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of names) {
    const distance = levenshtein(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

type Lookup =
  { kind: 'found'; candidate: Candidate } | { kind: 'unknown' } | { kind: 'ambiguous'; names: string[] };

function lookup(name: string, candidates: readonly Candidate[]): Lookup {
  const lower = name.toLowerCase();
  const exact = candidates.find((c) => c.name.toLowerCase() === lower);
  if (exact) return { kind: 'found', candidate: exact };
  const hits = candidates.filter((c) => c.name.toLowerCase().startsWith(lower));
  // Several spellings of one option (copyhosts, copy-hosts) are not ambiguous.
  const distinct = new Map<string, Candidate>();
  for (const hit of hits)
    distinct.set(`${hit.def.key}/${hit.negated}`, distinct.get(`${hit.def.key}/${hit.negated}`) ?? hit);
  const [only] = distinct.values();
  if (distinct.size === 1 && only) return { kind: 'found', candidate: only };
  if (distinct.size === 0) return { kind: 'unknown' };
  return { kind: 'ambiguous', names: [...distinct.values()].map((c) => `--${c.name}`) };
}

function looksLikeKnownOption(arg: string, candidates: readonly Candidate[]): boolean {
  if (arg === '--') return true;
  const match = /^--?([A-Za-z][\w-]*)(=.*)?$/s.exec(arg);
  return match !== null && lookup(match[1] ?? '', candidates).kind === 'found';
}

/**
 * Parses `argv` against `table`, collecting every problem; throws ValidationErrors (usage)
 * when there is any. Arguments that are not options are errors: xen-tools ignored them.
 */
export function parseGetopt(
  argv: readonly string[],
  table: readonly OptionDef[],
  options: GetoptOptions = {},
): ParsedOption[] {
  const program = options.program ?? 'xen-create-image';
  const candidates = candidatesOf(table);
  const names = [...new Set(candidates.map((c) => c.name))];
  const errors = new ErrorCollector();
  const out: ParsedOption[] = [];
  let onlyArguments = false;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (!onlyArguments && arg === '--') {
      onlyArguments = true;
      continue;
    }
    if (onlyArguments || !arg.startsWith('-') || arg === '-') {
      errors.add(
        'E_USAGE',
        `unexpected argument "${arg}"`,
        `every setting is an option, e.g. --hostname=${arg.replace(/^-+/, '') || 'NAME'}; see ${program} --help`,
      );
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const inline = eq < 0 ? undefined : body.slice(eq + 1);
    const flag = arg.slice(0, arg.length - body.length) + name;
    const found = lookup(name, candidates);
    if (found.kind === 'unknown') {
      const confOnly = table.find((d) => d.onCli === false && d.name === name.toLowerCase());
      if (confOnly) {
        errors.add(
          'E_USAGE',
          `unknown option "${flag}"`,
          `"${confOnly.key}" is a xen-tools.conf setting, not an option: set it there`,
        );
        continue;
      }
      const near = suggestName(name, names);
      errors.add(
        'E_USAGE',
        `unknown option "${flag}"`,
        near
          ? `did you mean --${near}? (${program} --help lists every option)`
          : `${program} --help lists every option`,
      );
      continue;
    }
    if (found.kind === 'ambiguous') {
      errors.add(
        'E_USAGE',
        `option "${flag}" is ambiguous: it could be ${found.names.join(', ')}`,
        `write more of the name, e.g. ${found.names[0] ?? '--help'}`,
      );
      continue;
    }
    const { def, negated } = found.candidate;
    if (def.kind === 'flag' || def.kind === 'negatable') {
      if (inline !== undefined) {
        const forms = def.kind === 'negatable' ? `--${def.name} or --no${def.name}` : `--${def.name}`;
        errors.add('E_USAGE', `option "${flag}" takes no value (got "${arg}")`, `write just ${forms}`);
        continue;
      }
      out.push({ def, value: !negated, flag });
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (def.kind === 'optional') {
        if (next !== undefined && !next.startsWith('-')) {
          value = next;
          i += 1;
        } else value = '';
      } else if (next === undefined || looksLikeKnownOption(next, candidates)) {
        errors.add(
          'E_USAGE',
          `option "${flag}" needs a value`,
          `write --${def.name}=${def.valueName ?? 'VALUE'}`,
        );
        continue;
      } else {
        value = next;
        i += 1;
      }
    }
    if (def.kind === 'int' && !/^[-+]?[0-9]+$/.test(value)) {
      errors.add('E_USAGE', `option "${flag}" needs a whole number, not "${value}"`, `e.g. --${def.name}=1`);
      continue;
    }
    out.push({ def, value, flag });
  }
  if (!errors.isEmpty) throw collected(errors.errors);
  return out;
}

function collected(errors: readonly XenkitError[]): XenkitError {
  return errors.length === 1 && errors[0] ? errors[0] : new ValidationErrors(errors);
}
