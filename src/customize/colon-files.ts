/** passwd, shadow and group files: colon-separated rows, edited without disturbing other lines. */

export interface ColonRow {
  /** The fields of an entry; empty for comments and blank lines, which are kept verbatim. */
  fields: string[];
  raw: string;
}

/** Parses a colon file, keeping every line (comments and blank ones verbatim). */
export function parseColonFile(text: string): ColonRow[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((raw) => ({
    raw,
    fields: raw.trim() === '' || raw.startsWith('#') ? [] : raw.split(':'),
  }));
}

/** Renders rows back, with a final newline. */
export function renderColonFile(rows: ColonRow[]): string {
  if (rows.length === 0) return '';
  return `${rows.map((r) => (r.fields.length > 0 ? r.fields.join(':') : r.raw)).join('\n')}\n`;
}

/** The entry whose first field is `name`. */
export function findRow(rows: ColonRow[], name: string): ColonRow | undefined {
  return rows.find((r) => r.fields[0] === name);
}

/** A new row from fields. */
export function makeRow(fields: string[]): ColonRow {
  return { fields, raw: fields.join(':') };
}
