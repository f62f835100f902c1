/**
 * Typed reads of merged settings for validation: every bad value becomes an error in the
 * collector (naming the input and with a hint) and the read returns undefined, so validation
 * goes on and reports every problem at once.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import type { ErrorCollector, ErrorCode } from '../errors.js';
import { escapeControlChars } from '../log/escape-control.js';
import { parseSize, type ParseSizeOptions } from '../model/size.js';
import { underRoot, type Paths } from '../paths.js';
import { describeInput, isUserSet, type Setting, type Settings } from './settings.js';

const TRUE = new Set(['1', 'yes', 'true', 'on']);
const FALSE = new Set(['0', 'no', 'false', 'off', '']);

/** Reads settings as typed values, recording problems instead of throwing. */
export class SettingsReader {
  constructor(
    readonly settings: Settings,
    readonly errors: ErrorCollector,
    readonly warnings: string[],
    readonly paths: Paths,
  ) {}

  /** The setting itself (value and origin). */
  get(key: string): Setting | undefined {
    return this.settings[key];
  }

  /** Whether the user set `key` (not a built-in default). */
  isSet(key: string): boolean {
    return isUserSet(this.settings[key]);
  }

  /** How to name `key` in a message. */
  what(key: string): string {
    return describeInput(key, this.settings[key]);
  }

  /** Records a problem with `key`: `<input> "<value>" <problem>`. */
  fail(key: string, code: ErrorCode, problem: string, hint: string): void {
    const value = this.settings[key]?.value;
    const shown = escapeControlChars(Array.isArray(value) ? value.join(' ') : String(value ?? ''));
    this.errors.add(code, `${this.what(key)} "${shown}" ${problem}`, hint);
  }

  /** A text value; empty text counts as unset, as in xen-tools (where '' is false). */
  string(key: string): string | undefined {
    const value = this.settings[key]?.value;
    if (value === undefined || typeof value === 'boolean') return undefined;
    const text = Array.isArray(value) ? value.join(' ') : value.trim();
    return text === '' ? undefined : text;
  }

  /** A list value (repeated options, or blank/comma separated text). */
  list(key: string): string[] {
    const value = this.settings[key]?.value;
    if (value === undefined || typeof value === 'boolean') return [];
    const items = Array.isArray(value) ? value : [value];
    return items.flatMap((item) => item.split(/[\s,]+/)).filter(Boolean);
  }

  /** A yes/no value: 1/0, yes/no, true/false, on/off; booleans from flags as they are. */
  bool(key: string): boolean | undefined {
    const value = this.settings[key]?.value;
    if (value === undefined) return undefined;
    if (typeof value === 'boolean') return value;
    const text = String(value).trim().toLowerCase();
    if (TRUE.has(text)) return true;
    if (FALSE.has(text)) return false;
    this.fail(key, 'E_BOOL', 'is not a yes/no value', 'use 1 or 0 (also yes/no, true/false, on/off)');
    return undefined;
  }

  /** A whole number within [min, max]. */
  int(key: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const text = this.string(key);
    if (text === undefined) {
      if (this.settings[key] !== undefined)
        this.fail(key, 'E_INT', 'is empty', `write a whole number from ${min}`);
      return undefined;
    }
    if (!/^[-+]?[0-9]+$/.test(text)) {
      this.fail(key, 'E_INT', 'is not a whole number', `write a whole number from ${min}, e.g. ${min}`);
      return undefined;
    }
    const n = Number(text);
    if (n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
      this.fail(key, 'E_INT', `is out of range`, `use a number ${range}`);
      return undefined;
    }
    return n;
  }

  /** A size in bytes (`4G`, `512M`); a present but empty value is an error. */
  size(key: string, options: ParseSizeOptions & { requireUnit?: boolean } = {}): number | undefined {
    const setting = this.settings[key];
    if (setting === undefined) return undefined;
    const text = typeof setting.value === 'string' ? setting.value.trim() : '';
    const hint = 'write a number with a unit, e.g. 512M, 4G, 1.5G or 2T';
    if (text === '') {
      this.fail(key, 'E_SIZE', 'is empty', hint);
      return undefined;
    }
    if (options.requireUnit && /^[0-9.]+$/.test(text) && !(options.allowZero && Number(text) === 0)) {
      this.fail(key, 'E_SIZE', 'has no unit', `add one: ${text}M or ${text}G`);
      return undefined;
    }
    return this.errors.attempt(() => parseSize(text, this.what(key), options));
  }

  /** One of `choices` (case-insensitive), lower-cased. */
  oneOf<T extends string>(key: string, choices: readonly T[], hint?: string): T | undefined {
    const text = this.string(key)?.toLowerCase();
    if (text === undefined) return undefined;
    if ((choices as readonly string[]).includes(text)) return text as T;
    this.fail(
      key,
      'E_CHOICE',
      `is not one of ${choices.join(', ')}`,
      hint ?? `use one of: ${choices.join(', ')}`,
    );
    return undefined;
  }

  /**
   * A path placed under the root; `mustBe` checks that it exists as a file or directory.
   * `relativeTo` resolves bare names the way xen-tools does (e.g. templates in /etc/xen-tools).
   */
  path(key: string, mustBe?: 'file' | 'dir', relativeTo?: string): string | undefined {
    const text = this.string(key);
    if (text === undefined) return undefined;
    return this.checkPath(key, text, mustBe, relativeTo);
  }

  /** Like `path`, for one item of a list setting. */
  checkPath(key: string, text: string, mustBe?: 'file' | 'dir', relativeTo?: string): string | undefined {
    // Linux refuses (ENAMETOOLONG) a component over 255 bytes and a path over 4095.
    const long = text.split('/').find((part) => Buffer.byteLength(part) > 255);
    if (long !== undefined || Buffer.byteLength(text) > 4000) {
      this.errors.add(
        'E_PATH',
        `${this.what(key)} "${escapeControlChars(text.slice(0, 60))}..." is too long for a path`,
        'a file name holds at most 255 bytes, a whole path about 4000',
      );
      return undefined;
    }
    const resolved =
      relativeTo !== undefined && !path.isAbsolute(text) && !text.includes('/')
        ? path.join(relativeTo, text)
        : underRoot(this.paths, text);
    if (mustBe === undefined) return resolved;
    let kind: 'file' | 'dir' | 'missing' | 'other';
    try {
      const stat = statSync(resolved);
      kind = stat.isDirectory() ? 'dir' : stat.isFile() ? 'file' : 'other';
    } catch {
      kind = 'missing';
    }
    if (kind === mustBe) return resolved;
    const noun = mustBe === 'dir' ? 'directory' : 'file';
    const problem =
      kind === 'missing' ? `does not exist (looked for ${resolved})` : `is not a ${noun} (${resolved})`;
    this.errors.add('E_PATH', `${this.what(key)} "${text}" ${problem}`, `give an existing ${noun}`);
    return undefined;
  }
}
