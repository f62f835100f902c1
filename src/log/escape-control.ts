/** Control characters made visible, so a value can never start a new line or move the cursor. */

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * `text` with every C0 control character and DEL written as an escape (`\n`, `\r`, `\t`,
 * `\x1b`), except those listed in `keep` (a log keeps the line breaks of a tool's output).
 */
export function escapeControlChars(text: string, keep = ''): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f]/g, (c) =>
    keep.includes(c) ? c : (NAMED[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`),
  );
}

/** Whether `text` holds a C0 control character or DEL. */
export function hasControlChars(text: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\x00-\x1f\x7f]/.test(text);
}
