/**
 * Perl's Text::Template, for xen-tools templates with code blocks (formats/xl-cfg-template.ts
 * fills the plain ones): run in a `perl` child, the variables as JSON on stdin.
 */
import { runtimeError, usageError } from '../errors.js';
import { runCommand, type ExecOptions } from './exec.js';

/** The variables of a template: scalars, and `@PARTITIONS` as a list of hashes. */
export interface PerlTemplateVars {
  scalars: Record<string, string>;
  partitions: readonly object[];
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
  vars: PerlTemplateVars,
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
