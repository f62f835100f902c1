/**
 * Parser of xl.cfg files (`/etc/xen/NAME.cfg`) with the grammar of Xen's libxlu
 * (libxlu_cfg_y.y): `key = value` or `key += value` statements ended by a newline or `;`
 * (the last one may end at the end of the file), values that are strings, numbers or lists
 * (nested, spanning lines, trailing comma allowed). A later assignment replaces an earlier
 * one; `+=` appends a string to a string or a list to a list, as xl does.
 *
 * libxlu keeps every atom as a string; here an unquoted number that strtol(base 0) reads
 * whole (decimal, 0x hex, 0-prefixed octal) becomes a JS number, any other stays a string.
 */
import type { DomainConfig, XlValue } from '../model/domain-config.js';
import { readXlNumber, tokenizeXlCfg, xlSyntaxError, type XlToken } from './xl-cfg-lexer.js';
import { valuesToDomainConfig } from './xl-cfg-domain.js';
import { parseXlCfgFast } from './xl-cfg-fast-parse.js';

function describe(token: XlToken): string {
  switch (token.kind) {
    case 'newline':
      return 'the end of the line';
    case 'eof':
      return 'the end of the file';
    case 'string':
      return `the string ${JSON.stringify(token.text)}`;
    case 'ident':
    case 'number':
      return `"${token.text}"`;
    default:
      return `"${token.kind}"`;
  }
}

class XlParser {
  private pos = 0;
  readonly values: Record<string, XlValue> = {};

  constructor(
    private readonly tokens: XlToken[],
    private readonly file: string,
  ) {}

  private peek(): XlToken {
    return this.tokens[this.pos] as XlToken;
  }

  private next(): XlToken {
    const token = this.peek();
    if (token.kind !== 'eof') this.pos++;
    return token;
  }

  private fail(token: XlToken, expected: string, hint: string): never {
    throw xlSyntaxError(
      this.file,
      token.line,
      token.column,
      `expected ${expected}, found ${describe(token)}`,
      hint,
    );
  }

  private skipNewlines(): void {
    while (this.peek().kind === 'newline') this.pos++;
  }

  parseFile(): void {
    for (;;) {
      const token = this.next();
      if (token.kind === 'eof') return;
      if (token.kind === 'newline' || token.kind === ';') continue;
      if (token.kind !== 'ident') this.fail(token, 'a key', 'each line is key = value, e.g. memory = 512');
      this.parseAssignment(token);
      const end = this.next();
      if (end.kind !== 'newline' && end.kind !== ';' && end.kind !== 'eof') {
        this.fail(
          end,
          'the end of the line or ";"',
          'put one key = value per line, or separate them with ";"',
        );
      }
      if (end.kind === 'eof') return;
    }
  }

  private parseAssignment(key: XlToken): void {
    const op = this.next();
    if (op.kind !== '=' && op.kind !== '+=') {
      this.fail(op, `"=" after "${key.text}"`, `write ${key.text} = value`);
    }
    const valueToken = this.peek();
    const value = this.parseValue();
    const previous = this.values[key.text];
    if (op.kind === '=' || previous === undefined) {
      this.values[key.text] = value;
      return;
    }
    if (typeof previous === 'number' || typeof value === 'number') {
      throw xlSyntaxError(
        this.file,
        valueToken.line,
        valueToken.column,
        `"+=" cannot be used with numbers (key "${key.text}")`,
        'xl refuses += on numeric keys; assign the whole value with =',
      );
    }
    if (Array.isArray(previous) !== Array.isArray(value)) {
      throw xlSyntaxError(
        this.file,
        valueToken.line,
        valueToken.column,
        `"+=" cannot add a ${Array.isArray(value) ? 'list' : 'string'} to a ${Array.isArray(previous) ? 'list' : 'string'} (key "${key.text}")`,
        'add a [ list ] to a list and a "string" to a string',
      );
    }
    this.values[key.text] =
      Array.isArray(previous) && Array.isArray(value)
        ? [...previous, ...value]
        : `${String(previous)}${String(value)}`;
  }

  private parseValue(): XlValue {
    const token = this.next();
    if (token.kind === 'string') return token.text;
    if (token.kind === 'number') return readXlNumber(token.text) ?? token.text;
    if (token.kind !== '[') {
      this.fail(token, 'a value', "values are 'strings', numbers or [ lists ]");
    }
    const list: XlValue[] = [];
    this.skipNewlines();
    if (this.peek().kind === ']') {
      this.next();
      return list;
    }
    for (;;) {
      list.push(this.parseValue());
      this.skipNewlines();
      const sep = this.next();
      if (sep.kind === ']') return list;
      if (sep.kind !== ',')
        this.fail(sep, '"," or "]" after a list item', "separate list items with commas: [ 'a', 'b' ]");
      this.skipNewlines();
      if (this.peek().kind === ']') {
        this.next();
        return list;
      }
    }
  }
}

/** Parses xl.cfg text into its key/value map; `file` names the input in errors (E_XLCFG). */
export function parseXlCfgValues(text: string, file = '<cfg>'): Record<string, XlValue> {
  // The common shape without tokens; the tokens and their positions for the rest (and errors).
  const fast = parseXlCfgFast(text);
  if (fast !== undefined) return fast;
  const parser = new XlParser(tokenizeXlCfg(text, file), file);
  parser.parseFile();
  return parser.values;
}

/** Parses xl.cfg text into a DomainConfig with xl's defaults filled in. */
export function parseXlCfg(text: string, file = '<cfg>'): DomainConfig {
  return valuesToDomainConfig(parseXlCfgValues(text, file), file);
}
