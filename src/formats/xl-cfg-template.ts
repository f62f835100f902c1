/**
 * User templates for the domain config (`--template FILE`), in xen-tools' format: Perl
 * Text::Template files where `{ ... }` holds Perl code whose value (or `$OUT`) replaces it;
 * /etc/xen-tools/xm.tmpl is one. Two ways to fill one in:
 *
 *  - native: a template whose every `{ ... }` block is a plain variable (`{$hostname}`,
 *    `{ $memory }`) and that has no backslash escapes is filled here, no Perl needed. An unset
 *    variable becomes "", as in Text::Template.
 *  - perl: any other template is filled by the real Text::Template (Debian package
 *    libtext-template-perl) in a `perl` child: the template path is an argument, the
 *    variables go as JSON on stdin (never through a shell or the environment), and
 *    `@PARTITIONS` is a list of hashes as xt-create-xen-config gives it. Like xen-tools, this
 *    runs the template's code with the user's rights: templates are trusted input.
 *
 * When a template needs Perl and perl or Text::Template is missing, the error says which
 * package to install. Variables: see xl-cfg-template-vars.ts. This module is the pure part; the
 * Perl run and the file reading are in tools/text-template.ts.
 */
import { usageError } from '../errors.js';

const BLOCK = /\{([^{}]*)\}/g;
const PLAIN_VARIABLE = /^\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*$/;

/** How a template can be filled: natively (plain variables only) or only by Perl. */
export function classifyTemplate(text: string): 'native' | 'perl' {
  if (text.includes('\\')) return 'perl';
  const outside = text.replace(BLOCK, '');
  if (outside.includes('{') || outside.includes('}')) return 'perl';
  for (const match of text.matchAll(BLOCK)) {
    if (!PLAIN_VARIABLE.test(match[1] as string)) return 'perl';
  }
  return 'native';
}

/** Fills a plain-variable template; throws E_TEMPLATE when it needs Perl. */
export function fillNativeTemplate(
  text: string,
  scalars: Record<string, string>,
  file = '<template>',
): string {
  if (classifyTemplate(text) !== 'native') {
    throw usageError(
      'E_TEMPLATE',
      `template "${file}" has Perl code blocks`,
      'fill it with fillPerlTemplate',
    );
  }
  return text.replace(
    BLOCK,
    (_block, inner: string) => scalars[(PLAIN_VARIABLE.exec(inner) as RegExpExecArray)[1] as string] ?? '',
  );
}
