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
  // Decimal first: the common case (memory, vcpus); the three forms cannot overlap.
  if (/^[1-9][0-9]*$/.test(text)) value = parseInt(text, 10);
  else if (/^0x[0-9a-f]+$/i.test(text)) value = parseInt(text.slice(2), 16);
  else if (/^0[0-7]*$/.test(text)) value = parseInt(text, 8);
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

const isLower = (code: number): boolean => code >= 97 && code <= 122; // a-z
const isDigit = (code: number): boolean => code >= 48 && code <= 57; // 0-9
const isUpper = (code: number): boolean => code >= 65 && code <= 90; // A-Z
const isIdentChar = (code: number): boolean => isLower(code) || isDigit(code) || code === 95; // _
const isNumberChar = (code: number): boolean => isDigit(code) || (code >= 97 && code <= 102) || code === 120; // a-f, x

/**
 * Splits cfg text into tokens; throws E_XLCFG naming file, line and column on a lexical error.
 * It walks character codes and slices runs rather than testing a pattern per character: `xm
 * list --all` and `xen-list-images` read every cfg of the host, so this loop is their hot path.
 */
export function tokenizeXlCfg(text: string, file: string): XlToken[] {
  const tokens: XlToken[] = [];
  const length = text.length;
  let line = 1;
  let lineStart = 0;
  let i = 0;
  const col = (at: number): number => at - lineStart + 1;
  const fail = (at: number, message: string, hint: string): never => {
    throw xlSyntaxError(file, line, col(at), message, hint);
  };

  while (i < length) {
    const code = text.charCodeAt(i);
    const start = i;
    if (code === 32 || code === 9) {
      i++;
    } else if (code === 10 || code === 35) {
      // A comment runs to the end of the line and counts as the newline that ends a statement.
      const end = text.indexOf('\n', i);
      i = end < 0 ? length : end;
      tokens.push({ kind: 'newline', text: '\n', line, column: col(start) });
      if (i < length) i++;
      line++;
      lineStart = i;
    } else if (isLower(code)) {
      while (i < length && isIdentChar(text.charCodeAt(i))) i++;
      tokens.push({ kind: 'ident', text: text.slice(start, i), line, column: col(start) });
    } else if (isDigit(code)) {
      while (i < length && isNumberChar(text.charCodeAt(i))) i++;
      tokens.push({ kind: 'number', text: text.slice(start, i), line, column: col(start) });
    } else if (code === 39 || code === 34) {
      const quote = text[i] as string;
      i++;
      let value = '';
      let runStart = i;
      for (;;) {
        const d = text.charCodeAt(i);
        if (i >= length || d === 10) {
          fail(
            start,
            `unterminated string starting with ${quote}`,
            `close the string with ${quote} on the same line`,
          );
        } else if (d === code) {
          value += text.slice(runStart, i);
          i++;
          break;
        } else if (d === 92) {
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
          value += text.slice(runStart, i) + escaped;
          i += 2;
          runStart = i;
        } else {
          i++;
        }
      }
      tokens.push({ kind: 'string', text: value, line, column: col(start) });
    } else if (code === 43 && text.charCodeAt(i + 1) === 61) {
      tokens.push({ kind: '+=', text: '+=', line, column: col(start) });
      i += 2;
    } else if (code === 61 || code === 44 || code === 91 || code === 93 || code === 59) {
      const c = text[i] as '=' | ',' | '[' | ']' | ';';
      tokens.push({ kind: c, text: c, line, column: col(start) });
      i++;
    } else if (code === 13) {
      fail(
        start,
        'carriage return in the file',
        'the file has Windows (CRLF) line endings, which xl rejects; convert it with dos2unix',
      );
    } else if (isUpper(code)) {
      let end = i;
      while (end < length && /[_0-9A-Za-z]/.test(text[end] as string)) end++;
      fail(
        start,
        `unexpected "${text.slice(start, end)}": keys are lower case`,
        'xl only accepts lower-case keys such as name, memory, disk',
      );
    } else {
      const c = text[i] as string;
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
