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
 * package to install. Variables: see xl-cfg-template-vars.ts.
 */
import { readFile } from 'node:fs/promises';
import { runtimeError, usageError } from '../errors.js';
import type { GuestSpec } from '../model/guest-spec.js';
import { runCommand, type ExecOptions } from '../tools/exec.js';
import { buildTemplateVars, type TemplateVars } from './xl-cfg-template-vars.js';

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

// Fills ARGV[0] with Text::Template; JSON {scalars, partitions, epoch} on stdin. With an epoch,
// localtime is pinned to it (the template's `{ scalar localtime }`), for reproducible output.
const PERL_FILLER = String.raw`
use strict; use warnings; use JSON::PP; use Text::Template;
# Bytes in, bytes out: JSON text decoded without its utf8 flag keeps UTF-8 as bytes, like the
# template file, which Text::Template also reads as bytes.
my $in = JSON::PP->new->decode(do { local $/; <STDIN> });
if (defined $in->{epoch}) {
  no warnings 'redefine';
  *CORE::GLOBAL::localtime = sub { CORE::localtime(@_ ? $_[0] : $in->{epoch}) };
}
my %vars = %{ $in->{scalars} };
$vars{PARTITIONS} = $in->{partitions};
my $template = Text::Template->new(TYPE => 'FILE', SOURCE => $ARGV[0])
  or die "cannot read template: $Text::Template::ERROR\n";
# Unlike xen-tools, a failing block fails the run instead of landing in the cfg as text.
my $result = $template->fill_in(HASH => \%vars, BROKEN => sub {
  my %broken = @_;
  (my $error = $broken{error}) =~ s/\s+$//;
  die "line $broken{lineno}: $error\n";
});
defined $result or die "template failed: $Text::Template::ERROR\n";
print $result;
`;

export interface FillTemplateOptions {
  /** Pin the template's `localtime` to this instant (Perl templates). */
  now?: Date;
  /** Run Perl with TZ=UTC. */
  utc?: boolean;
  signal?: AbortSignal;
  sink?: ExecOptions['sink'];
}

/** Fills any xen-tools template with the real Perl Text::Template. */
export async function fillPerlTemplate(
  file: string,
  vars: TemplateVars,
  options: FillTemplateOptions = {},
): Promise<string> {
  const probe = await runCommand(['perl', '-MText::Template', '-e', '1'], {
    allowFailure: true,
    sink: options.sink,
  }).catch(() => undefined);
  if (!probe || probe.exitCode !== 0) {
    throw runtimeError(
      'E_TEMPLATE',
      `template "${file}" has Perl code blocks, and perl with Text::Template is not available`,
      'install perl and libtext-template-perl (apt-get install libtext-template-perl), or use only {$variable} blocks',
    );
  }
  const input = JSON.stringify({
    scalars: vars.scalars,
    partitions: vars.partitions,
    epoch: options.now === undefined ? undefined : Math.floor(options.now.getTime() / 1000),
  });
  const result = await runCommand(['perl', '-e', PERL_FILLER, file], {
    input,
    env: options.utc ? { TZ: 'UTC' } : {},
    allowFailure: true,
    signal: options.signal,
    sink: options.sink,
    timeoutMs: 60_000,
  });
  if (result.exitCode !== 0) {
    const why = result.stderr.trim().split('\n').slice(-3).join(' ');
    throw usageError('E_TEMPLATE', `template "${file}" failed: ${why}`, 'fix the Perl code in the template');
  }
  return result.stdout;
}

/** Renders a guest's domain config from a xen-tools template file, natively or with Perl. */
export async function renderGuestCfgFromTemplate(
  spec: GuestSpec,
  file: string,
  options: FillTemplateOptions = {},
): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw usageError('E_TEMPLATE', `template "${file}" cannot be read`, 'check the --template path', error);
  }
  const vars = buildTemplateVars(spec);
  if (classifyTemplate(text) === 'native') return fillNativeTemplate(text, vars.scalars, file);
  return fillPerlTemplate(file, vars, options);
}
