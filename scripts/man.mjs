#!/usr/bin/env node
// Man pages and bash completion from the commands' own --help (one source: the option tables
// that --help is printed from). Runs the built bundle in-process and writes
//   dist/man/man1/<command>.1     one page per command, the subcommands of xm and xenkit included
//   dist/completion/xenkit.bash   completion for every command (options, subcommands, guest names)
// `npm run build` runs it; scripts/setup-host.sh --link installs both.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = await import(path.join(REPO, 'dist/bundle/cli.mjs'));
const VERSION = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).version;

/** [command, bundle export, one-line summary for NAME]. */
const PROGRAMS = [
  ['xenkit', 'xenkit', 'create and run Xen-style virtual machines'],
  ['xm', 'xm', 'manage domains the way xm did, over Xen xl or QEMU'],
  ['xen-create-image', 'xenCreateImage', 'build a guest: images, Debian installed, its domain config'],
  ['xen-delete-image', 'xenDeleteImage', 'delete stopped guests made by xen-create-image'],
  ['xen-list-images', 'xenListImages', 'list the guests made by xen-create-image'],
  ['xen-update-image', 'xenUpdateImage', 'upgrade the packages inside stopped guests'],
  ['xen-resize-guest', 'xenResizeGuest', 'grow the root disk of a stopped guest and its filesystem'],
];

/** What `argv` prints on stdout (help goes there; exit status 0 expected). */
async function helpOf(fn, argv) {
  let out = '';
  let err = '';
  const io = {
    stdout: { write: (t) => ((out += t), true) },
    stderr: { write: (t) => ((err += t), true) },
    stdin: process.stdin,
  };
  const code = await cli[fn](argv, io);
  if (code !== 0) throw new Error(`${fn} ${argv.join(' ')} exited ${code}: ${err}`);
  return out;
}

/** The entries of a help section: `  TERM   description` with continuation lines. */
function parseHelp(text) {
  const lines = text.replace(/\s+$/, '').split('\n');
  const usage = (lines.shift() ?? '').replace(/^Usage:\s*/, '');
  const sections = [{ title: '', body: [], entries: [] }];
  for (const line of lines) {
    const header = /^([A-Z][A-Za-z /()-]*):$/.exec(line);
    if (header) {
      sections.push({ title: header[1], body: [], entries: [] });
      continue;
    }
    const current = sections.at(-1);
    const indent = /^ */.exec(line)[0].length;
    if (current.title === '' || line.trim() === '') {
      current.body.push(line);
      continue;
    }
    const last = current.entries.at(-1);
    if (indent >= 6 && last) {
      last.text = `${last.text} ${line.trim()}`.trim();
      continue;
    }
    const m = /^ +(\S(?:.*?\S)?)(?: {2,}(.*))?$/.exec(line);
    if (m) current.entries.push({ term: m[1], text: m[2] ?? '' });
    else current.body.push(line);
  }
  return { usage, sections };
}

const esc = (s) => s.replace(/\\/g, '\\e').replace(/^([.'])/gm, '\\&$1');
const term = (s) => `\\fB${esc(s).replace(/-/g, '\\-')}\\fR`;

/** The text before the first section: paragraphs, numbered lists kept as lists. */
function bodyRoff(lines) {
  const out = [];
  let para = [];
  const flush = () => {
    if (para.length) out.push('.PP', esc(para.join(' ')));
    para = [];
  };
  for (const line of lines) {
    const item = /^\s+(\d+\.)\s+(.*)$/.exec(line);
    if (line.trim() === '') flush();
    else if (item) {
      flush();
      out.push(`.IP ${item[1]} 4`, esc(item[2]));
    } else para.push(line.trim());
  }
  flush();
  return out;
}

function sectionsRoff(sections, heading) {
  const out = [];
  for (const s of sections.filter((x) => x.title !== '')) {
    out.push(`${heading} ${esc(heading === '.SH' ? s.title.toUpperCase() : s.title)}`);
    out.push(...bodyRoff(s.body));
    for (const e of s.entries) out.push('.TP', term(e.term), esc(e.text));
  }
  return out;
}

/** Subcommand names listed under "Commands:" (without commander's own `help`). */
function subcommandsOf(parsed) {
  const commands = parsed.sections.find((s) => s.title === 'Commands');
  return (commands?.entries ?? []).map((e) => e.term.split(' ')[0]).filter((n) => n !== 'help');
}

const pages = [];
const completion = {};
for (const [name, fn, summary] of PROGRAMS) {
  const top = parseHelp(await helpOf(fn, ['--help']));
  const roff = [
    `.TH ${name.toUpperCase().replace(/-/g, '\\-')} 1 "" "xenkit ${VERSION}" "xenkit manual"`,
    '.SH NAME',
    `${name.replace(/-/g, '\\-')} \\- ${esc(summary)}`,
    '.SH SYNOPSIS',
    term(name) + esc(top.usage.slice(name.length)),
    '.SH DESCRIPTION',
    ...bodyRoff(top.sections[0].body),
    ...sectionsRoff(top.sections, '.SH'),
  ];
  const subs = {};
  const subcommands = subcommandsOf(top);
  if (subcommands.length > 0) roff.push('.SH SUBCOMMANDS');
  for (const sub of subcommands) {
    if (name === 'xenkit' && sub === 'create-image') {
      roff.push(`.SS ${sub}`, '.PP', 'Takes the options of \\fBxen\\-create\\-image\\fR(1).');
      subs[sub] = completion['xen-create-image']?.options ?? [];
      continue;
    }
    const help = parseHelp(await helpOf(fn, [sub, '--help']));
    roff.push(`.SS ${esc(sub)}`, '.nf', esc(help.usage), '.fi', ...bodyRoff(help.sections[0].body));
    for (const s of help.sections.filter((x) => x.title !== '')) {
      for (const e of s.entries) roff.push('.TP', term(e.term), esc(e.text));
    }
    subs[sub] = optionWords(help);
  }
  const others = PROGRAMS.map((p) => p[0]).filter((p) => p !== name);
  roff.push('.SH SEE ALSO', others.map((p) => `\\fB${p.replace(/-/g, '\\-')}\\fR(1)`).join(', '));
  roff.push('.PP', 'README.md of the xenkit distribution: setup, configuration, examples.');
  pages.push([name, `${roff.join('\n')}\n`]);
  completion[name] = { options: optionWords(top), subcommands: subs };
}

/** Every option spelling of a help text: `--(no)x` gives --x and --nox, `--x=ARG` gives `--x=`. */
function optionWords(parsed) {
  const words = new Set();
  for (const s of parsed.sections) {
    for (const e of s.entries) {
      for (const piece of e.term.split(/,\s*/)) {
        const m = /^(-{1,2})(\(no\))?([A-Za-z0-9][\w-]*)(\[?=|\s+<)?/.exec(piece.trim());
        if (!m) continue;
        const value = m[4] === '=' || m[4]?.includes('<') ? '=' : '';
        words.add(`${m[1]}${m[3]}${m[1] === '--' && value ? '=' : ''}`);
        if (m[2]) words.add(`--no${m[3]}`);
      }
    }
  }
  return [...words].sort();
}

mkdirSync(path.join(REPO, 'dist/man/man1'), { recursive: true });
for (const [name, text] of pages) writeFileSync(path.join(REPO, 'dist/man/man1', `${name}.1`), text);

const q = (words) => words.join(' ');
const cases = [];
for (const [name, { options, subcommands }] of Object.entries(completion)) {
  const subs = Object.keys(subcommands);
  const inner = subs
    .map((s) => `        ${s}) opts="${q(subcommands[s])}" ;;`)
    .concat(`        *) opts="${q(options)}" ;;`)
    .join('\n');
  cases.push(
    `    ${name})
      if [ -z "$sub" ] && [[ "$cur" != -* ]] && [ -n "${q(subs)}" ]; then words="${q(subs)}"; fi
      case "$sub" in
${inner}
      esac ;;`,
  );
}
const bash = `# bash completion for xenkit's commands (generated by scripts/man.mjs from their --help).
# Options, xm/xenkit subcommands, and guest names (the configs in /etc/xen under $XENKIT_ROOT).
_xenkit_guests() {
  local dir="\${XENKIT_ROOT:-}/etc/xen" f
  for f in "$dir"/*.cfg; do [ -e "$f" ] && basename "$f" .cfg; done
}
_xenkit_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="\${COMP_WORDS[0]##*/}" sub="" opts="" words="" i
  cmd="\${cmd%.js}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) sub="\${COMP_WORDS[i]}"; break ;; esac
  done
  case "$cmd" in
${cases.join('\n')}
  esac
  if [ -n "$words" ]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  elif [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    [[ "\${COMPREPLY[0]:-}" == *= ]] && compopt -o nospace 2>/dev/null
  else
    COMPREPLY=($(compgen -W "$(_xenkit_guests)" -- "$cur"))
  fi
  return 0
}
complete -o default -F _xenkit_complete ${PROGRAMS.map((p) => p[0]).join(' ')}
`;
mkdirSync(path.join(REPO, 'dist/completion'), { recursive: true });
writeFileSync(path.join(REPO, 'dist/completion/xenkit.bash'), bash);
