/**
 * The xen-tools.conf syntax, read exactly as xen-tools 4.9.2's `readConfigurationFile`
 * (Xen::Tools::Common) does, with two deliberate differences noted below.
 */
import { usageError, ValidationErrors, type XenkitError } from '../errors.js';

/** One `key = value` setting with where it came from. */
export interface ConfEntry {
  key: string;
  value: string;
  /** 1-based line number of the (first physical) line. */
  line: number;
}

/** A parsed file: its entries in file order, and warnings worth showing. */
export interface ConfEntries {
  file: string;
  entries: ConfEntry[];
  warnings: string[];
}

/** What a backtick command printed and how it ended. */
export interface ShellResult {
  stdout: string;
  exitCode: number;
  stderr: string;
}

/** Runs a backtick command; injectable so tests need not spawn a shell. */
export type ShellRunner = (command: string) => Promise<ShellResult>;

export interface ParseConfOptions {
  /** Runs backtick commands (tools/shell.ts runShellCommand does it as Perl does). */
  runShell: ShellRunner;
}

const KEY_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Physical lines joined where one ends in a backslash, as the Perl loop's `redo` does. */
function logicalLines(text: string): { text: string; line: number }[] {
  const physical = text.split('\n');
  if (physical.at(-1) === '') physical.pop();
  const out: { text: string; line: number }[] = [];
  for (let i = 0; i < physical.length; i += 1) {
    const start = i + 1;
    let line = physical[i] ?? '';
    while (line.endsWith('\\') && i + 1 < physical.length) {
      i += 1;
      line = line.slice(0, -1) + (physical[i] ?? '');
    }
    out.push({ text: line, line: start });
  }
  return out;
}

/**
 * Parses xen-tools.conf text. As in Perl: lines whose first non-blank is `#` are comments;
 * everything from the first `#` on is dropped (also inside a value); `key = value` splits at
 * the first `=`; both sides are trimmed; a line with nothing after `=` is ignored; the last
 * `` `command` `` of a value is replaced by its output minus one trailing newline.
 * Differences, on purpose: a non-blank line that is not `key = value` is an error naming
 * file and line (Perl skipped it silently, hiding typos like `dir /home/xen`), and a backtick
 * command that fails drops the setting with a warning, so the built-in default applies instead
 * of a half-substituted value (Debian's own `dist = \`xt-guess-suite-and-mirror --suite\``
 * fails on hosts with deb822 sources).
 */
export async function parseXenToolsConf(
  text: string,
  file: string,
  options: ParseConfOptions,
): Promise<ConfEntries> {
  const { runShell } = options;
  const entries: ConfEntry[] = [];
  const warnings: string[] = [];
  const errors: XenkitError[] = [];
  for (const { text: raw, line } of logicalLines(text)) {
    if (/^[ \t]*#/.test(raw) || raw.length === 0) continue;
    const content = raw.split('#', 1)[0] ?? '';
    if (content.trim() === '') continue;
    const eq = content.indexOf('=');
    if (eq < 0) {
      errors.push(
        usageError(
          'E_CONF_SYNTAX',
          `${file}:${line}: "${content.trim()}" is not a "key = value" line`,
          'write settings as key = value (e.g. dir = /srv/xen); start comments with #',
        ),
      );
      continue;
    }
    const key = content.slice(0, eq).trim();
    const after = content.slice(eq + 1);
    // Perl's /([^=]+)=([^\n]+)/ needs at least one character after the '='.
    if (after.length === 0) continue;
    if (!KEY_RE.test(key)) {
      errors.push(
        usageError(
          'E_CONF_SYNTAX',
          `${file}:${line}: "${key}" is not a setting name`,
          'setting names are letters, digits, "_", "-" and ".", e.g. install-method or mirror_bookworm',
        ),
      );
      continue;
    }
    let value = after.trim();
    const substitution = /^(.*)`([^`]+)`(.*)$/s.exec(value);
    if (substitution) {
      const [, pre = '', command = '', post = ''] = substitution;
      const result = await runShell(command);
      if (result.exitCode !== 0) {
        const why = result.stderr.trim().split('\n').at(-1) ?? '';
        warnings.push(
          `${file}:${line}: \`${command}\` failed (exit status ${result.exitCode})` +
            `${why ? `: ${why}` : ''}; "${key}" is ignored and its default applies`,
        );
        continue;
      }
      value = pre + result.stdout.replace(/\n$/, '') + post;
    }
    entries.push({ key, value, line });
  }
  if (errors.length === 1 && errors[0]) throw errors[0];
  if (errors.length > 1) throw new ValidationErrors(errors);
  return { file, entries, warnings };
}

/** The entries as a record; a key set twice keeps its last value, as Perl's hash does. */
export function confToRecord(conf: ConfEntries): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of conf.entries) out[entry.key] = entry.value;
  return out;
}

/** Renders settings back into xen-tools.conf syntax (one `key = value` a line), sorted by key. */
export function renderXenToolsConf(settings: Record<string, string>): string {
  return (
    Object.keys(settings)
      .sort()
      .map((key) => `${key} = ${settings[key]}`)
      .join('\n') + '\n'
  );
}
