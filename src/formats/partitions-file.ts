/**
 * xen-tools' partition layout files (`/etc/xen-tools/partitions.d/sample-server`): an INI file,
 * one `[section]` per volume with `size`, `type`, `mountpoint` and `options` keys, read by
 * xen-create-image through Perl's Config::IniFiles. Pure text in, sections with line numbers out;
 * what the values mean is checked in config/.
 */

/** One `key=value` of a section, with the line it came from (1-based). */
export interface PartitionsKey {
  value: string;
  line: number;
}

/** One `[section]`: a volume of the layout. */
export interface PartitionsSection {
  name: string;
  line: number;
  keys: Map<string, PartitionsKey>;
}

/** A line the parser could not read. */
export interface PartitionsSyntaxError {
  line: number;
  message: string;
}

/** The sections in file order, and every line that is not INI. */
export interface ParsedPartitions {
  sections: PartitionsSection[];
  errors: PartitionsSyntaxError[];
}

// Config::IniFiles: `#` and `;` start a comment line; a section is `[name]`; `key = value`.
const SECTION_RE = /^\[\s*([^\]]*?)\s*\]$/;
const KEY_RE = /^([^=]+?)\s*=\s*(.*)$/;

/** Parses a layout file's text. */
export function parsePartitionsFile(text: string): ParsedPartitions {
  const sections: PartitionsSection[] = [];
  const errors: PartitionsSyntaxError[] = [];
  let current: PartitionsSection | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) return;
    const section = SECTION_RE.exec(trimmed);
    if (section) {
      const name = section[1] ?? '';
      if (sections.some((s) => s.name === name)) {
        errors.push({ line, message: `section [${name}] appears twice` });
        current = undefined;
        return;
      }
      current = { name, line, keys: new Map() };
      sections.push(current);
      return;
    }
    const pair = KEY_RE.exec(trimmed);
    if (!pair) {
      errors.push({ line, message: `"${trimmed}" is neither [section] nor key=value` });
      return;
    }
    const key = (pair[1] ?? '').toLowerCase();
    if (!current) {
      errors.push({ line, message: `${key}= comes before any [section]` });
      return;
    }
    if (current.keys.has(key)) {
      errors.push({ line, message: `${key}= appears twice in [${current.name}]` });
      return;
    }
    current.keys.set(key, { value: pair[2] ?? '', line });
  });
  return { sections, errors };
}
