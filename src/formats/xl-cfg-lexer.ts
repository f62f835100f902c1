/**
 * Tokens of the xl.cfg syntax, as Xen's libxlu lexer (libxlu_cfg_l.l) defines them: lower-case
 * identifiers, numbers (`[0-9][0-9a-fx]*`), quoted strings that never span lines, `= += , [ ] ;`,
 * newlines and `#` comments. Only spaces and tabs are whitespace: a carriage return is an error
 * in xl too, so CRLF files are rejected here with a hint instead of failing later on a Xen host.
 */
import { usageError, type XenkitError } from '../errors.js';

export type XlTokenKind =
  'ident' | 'number' | 'string' | '=' | '+=' | ',' | '[' | ']' | ';' | 'newline' | 'eof';

/** One token with its 1-based position (line and column of its first character). */
export interface XlToken {
  kind: XlTokenKind;
  /** The identifier, the number's text, or the dequoted string. */
  text: string;
  line: number;
  column: number;
}

/** Formats `file:line:column` for error messages. */
export function formatXlPosition(file: string, line: number, column: number): string {
  return `${file}:${line}:${column}`;
}

/** An E_XLCFG usage error at a position in a cfg file. */
export function xlSyntaxError(
  file: string,
  line: number,
  column: number,
  message: string,
  hint: string,
): XenkitError {
  return usageError('E_XLCFG', `${formatXlPosition(file, line, column)}: ${message}`, hint);
}

/** Reads an unquoted number token the way strtol(text, _, 0) must read it whole. */
export function readXlNumber(text: string): number | undefined {
  let value: number;
  if (/^0x[0-9a-f]+$/i.test(text)) value = parseInt(text.slice(2), 16);
  else if (/^0[0-7]*$/.test(text)) value = parseInt(text, 8);
  else if (/^[1-9][0-9]*$/.test(text)) value = parseInt(text, 10);
  else return undefined;
  return Number.isSafeInteger(value) ? value : undefined;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '"': '"',
  "'": "'",
  '\\': '\\',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

// Characters libxlu flags as "likely Python" (xm configs could hold Python expressions).
const PYTHONISH = new Set(['+', '-', '.', '(', ')', ':']);

/** Splits cfg text into tokens; throws E_XLCFG naming file, line and column on a lexical error. */
export function tokenizeXlCfg(text: string, file: string): XlToken[] {
  const tokens: XlToken[] = [];
  let line = 1;
  let lineStart = 0;
  let i = 0;
  const col = (at: number): number => at - lineStart + 1;
  const fail = (at: number, message: string, hint: string): never => {
    throw xlSyntaxError(file, line, col(at), message, hint);
  };

  while (i < text.length) {
    const c = text[i] as string;
    const start = i;
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === '\n' || c === '#') {
      // A comment runs to the end of the line and counts as the newline that ends a statement.
      while (i < text.length && text[i] !== '\n') i++;
      tokens.push({ kind: 'newline', text: '\n', line, column: col(start) });
      if (i < text.length) i++;
      line++;
      lineStart = i;
    } else if (/[a-z]/.test(c)) {
      while (i < text.length && /[_0-9a-z]/.test(text[i] as string)) i++;
      tokens.push({ kind: 'ident', text: text.slice(start, i), line, column: col(start) });
    } else if (/[0-9]/.test(c)) {
      while (i < text.length && /[0-9a-fx]/.test(text[i] as string)) i++;
      tokens.push({ kind: 'number', text: text.slice(start, i), line, column: col(start) });
    } else if (c === "'" || c === '"') {
      i++;
      let value = '';
      for (;;) {
        const d = text[i];
        if (d === undefined || d === '\n') {
          fail(
            start,
            `unterminated string starting with ${c}`,
            `close the string with ${c} on the same line`,
          );
        } else if (d === c) {
          i++;
          break;
        } else if (d === '\\') {
          const e = text[i + 1];
          const escaped = e === undefined ? undefined : SIMPLE_ESCAPES[e];
          if (escaped === undefined) {
            // libxlu's \x and octal escapes never yield a character (they fail or vanish), so
            // accepting them here would make a file that real xl reads differently.
            fail(
              i,
              `unsupported escape "\\${e ?? ''}" in a string`,
              'xl knows only \\\\ \\\' \\" \\a \\b \\f \\n \\r \\t \\v; write other characters as they are',
            );
          }
          value += escaped;
          i += 2;
        } else {
          value += d;
          i++;
        }
      }
      tokens.push({ kind: 'string', text: value, line, column: col(start) });
    } else if (c === '+' && text[i + 1] === '=') {
      tokens.push({ kind: '+=', text: '+=', line, column: col(start) });
      i += 2;
    } else if (c === '=' || c === ',' || c === '[' || c === ']' || c === ';') {
      tokens.push({ kind: c, text: c, line, column: col(start) });
      i++;
    } else if (c === '\r') {
      fail(
        start,
        'carriage return in the file',
        'the file has Windows (CRLF) line endings, which xl rejects; convert it with dos2unix',
      );
    } else if (/[A-Z]/.test(c)) {
      let end = i;
      while (end < text.length && /[_0-9A-Za-z]/.test(text[end] as string)) end++;
      fail(
        start,
        `unexpected "${text.slice(start, end)}": keys are lower case`,
        'xl only accepts lower-case keys such as name, memory, disk',
      );
    } else {
      fail(
        start,
        `unexpected "${c}"`,
        PYTHONISH.has(c)
          ? 'xl.cfg is not Python: values are quoted strings, numbers or [ lists ] (remove the stray character)'
          : 'write key = value, with strings in quotes and lists in [ ]',
      );
    }
  }
  tokens.push({ kind: 'eof', text: '', line, column: col(i) });
  return tokens;
}
