/**
 * The common shape of an xl.cfg read without tokens: `key = value` lines whose values are quoted
 * strings without escapes, numbers, or flat lists of those (spanning lines, comments between
 * items, trailing comma), blank and comment lines. A listing reads every cfg of the host, and a
 * token object per word and a method call per token were most of its parse: here each line or
 * list item is one sticky regex match. Anything else (`+=`, `;`, escapes, nested lists, and every
 * error) is left to the full parser, which alone reports errors: parseXlCfgFast returns undefined
 * and parseXlCfgValues parses the text again. Where it answers, it answers what the full parser
 * does (test/formats/xl-cfg-fast-parse.test.ts compares them).
 */
import type { XlValue } from '../model/domain-config.js';
import { readXlNumber } from './xl-cfg-lexer.js';

// A blank or comment line (at the end of the file, the last one may lack its newline).
const BLANK = /[ \t]*(?:#[^\n]*)?(?:\n|$)/y;
// `key =` and what follows: a string or number (then the end of the line), or a list's `[`.
const ASSIGN =
  /[ \t]*([a-z][a-z0-9_]*)[ \t]*=[ \t]*(?:'([^'\\\n]*)'|"([^"\\\n]*)"|([0-9][0-9a-fx]*)|(\[))(?:[ \t]*(?:#[^\n]*)?(?:\n|$))?/y;
// Inside a list: blanks, newlines and comments, then an item or `]`.
const ITEM = /(?:[ \t]*(?:#[^\n]*)?\n)*[ \t]*(?:'([^'\\\n]*)'|"([^"\\\n]*)"|([0-9][0-9a-fx]*)|(\]))/y;
// After an item: blanks, newlines and comments, then `,` or `]`.
const SEPARATOR = /(?:[ \t]*(?:#[^\n]*)?\n)*[ \t]*([,\]])/y;
// After a list's `]`: the end of the line.
const LINE_END = /[ \t]*(?:#[^\n]*)?(?:\n|$)/y;

/** The atom of a match's groups `at` (single-quoted), `at + 1` (double-quoted), `at + 2` (number). */
function atomOf(match: RegExpExecArray, at: number): XlValue {
  const single = match[at];
  if (single !== undefined) return single;
  const double = match[at + 1];
  if (double !== undefined) return double;
  const number = match[at + 2] as string;
  return readXlNumber(number) ?? number;
}

/** The list whose `[` ends at `start`, and where it ends; undefined for any other shape. */
function readList(text: string, start: number): { list: XlValue[]; end: number } | undefined {
  const list: XlValue[] = [];
  let at = start;
  for (;;) {
    ITEM.lastIndex = at;
    const item = ITEM.exec(text);
    if (item === null) return undefined;
    at = ITEM.lastIndex;
    if (item[4] !== undefined) return { list, end: at };
    list.push(atomOf(item, 1));
    SEPARATOR.lastIndex = at;
    const separator = SEPARATOR.exec(text);
    if (separator === null) return undefined;
    at = SEPARATOR.lastIndex;
    if (separator[1] === ']') return { list, end: at };
  }
}

/**
 * The key/value map of `text` when it has the common shape above (exactly what
 * parseXlCfgValues returns for it), else undefined.
 */
export function parseXlCfgFast(text: string): Record<string, XlValue> | undefined {
  const values: Record<string, XlValue> = {};
  const length = text.length;
  let at = 0;
  while (at < length) {
    BLANK.lastIndex = at;
    if (BLANK.test(text) && BLANK.lastIndex > at) {
      at = BLANK.lastIndex;
      continue;
    }
    ASSIGN.lastIndex = at;
    const match = ASSIGN.exec(text);
    if (match === null) return undefined;
    const key = match[1] as string;
    at = ASSIGN.lastIndex;
    if (match[5] === undefined) {
      // A string or number must end its line (the optional group matched, or nothing may follow).
      if (at < length && text.charCodeAt(at - 1) !== 10) return undefined;
      values[key] = atomOf(match, 2);
      continue;
    }
    const read = readList(text, at);
    if (read === undefined) return undefined;
    LINE_END.lastIndex = read.end;
    if (!LINE_END.test(text)) return undefined;
    at = LINE_END.lastIndex;
    values[key] = read.list;
  }
  return values;
}
