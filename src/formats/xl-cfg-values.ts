/**
 * Writes xl.cfg values so that libxlu (and parseXlCfgValues) reads back exactly the same value:
 * strings in single quotes with the escapes libxlu knows, non-negative integers bare, lists in
 * brackets (one item per line when there is more than one).
 */
import type { XlValue } from '../model/domain-config.js';
import { usageError } from '../errors.js';

const ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\v': '\\v',
};

/** Quotes a string for xl.cfg. A NUL cannot be written: libxlu's C strings would end there. */
export function quoteXlString(text: string): string {
  if (text.includes('\0')) {
    throw usageError(
      'E_XLCFG',
      `value ${JSON.stringify(text)} contains a NUL character`,
      'remove the NUL byte',
    );
  }
  return `'${[...text].map((c) => ESCAPES[c] ?? c).join('')}'`;
}

/** Renders one value; `indent` is the indentation of the line holding it. */
export function renderXlValue(value: XlValue, indent = ''): string {
  if (typeof value === 'string') return quoteXlString(value);
  if (typeof value === 'number') {
    // libxlu has no negative or fractional number tokens ("-" and "." are lexical errors).
    if (!Number.isSafeInteger(value) || value < 0) {
      throw usageError(
        'E_XLCFG',
        `number ${value} cannot be written in xl.cfg`,
        'xl numbers are whole and not negative',
      );
    }
    return String(value);
  }
  if (value.length === 0) return '[ ]';
  if (value.length === 1 && !Array.isArray(value[0]))
    return `[ ${renderXlValue(value[0] as XlValue, indent)} ]`;
  const inner = `${indent}    `;
  return `[\n${value.map((item) => `${inner}${renderXlValue(item, inner)},\n`).join('')}${indent}]`;
}

/** Renders a key/value map as xl.cfg lines, `key = value`, in the map's order. */
export function renderXlValues(values: Record<string, XlValue>): string {
  return Object.entries(values)
    .map(([key, value]) => {
      if (!/^[a-z][_0-9a-z]*$/.test(key)) {
        throw usageError(
          'E_XLCFG',
          `key "${key}" cannot be written in xl.cfg`,
          'xl keys are lower case letters, digits and _',
        );
      }
      return `${key} = ${renderXlValue(value)}\n`;
    })
    .join('');
}
