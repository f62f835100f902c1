/**
 * The man pages and bash completion that scripts/man.mjs makes from the commands' --help at build
 * time: a page per command that groff renders without a warning and that names every option
 * --help names, and a completion that completes subcommands, options and guest names.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/tools/exec.js';
import { longOptions, REPO, runBin } from '../helpers/cli.js';

const COMMANDS = [
  'xenkit',
  'xm',
  'xen-create-image',
  'xen-delete-image',
  'xen-list-images',
  'xen-update-image',
  'xen-resize-guest',
];
const MAN = path.join(REPO, 'dist/man/man1');
const COMPLETION = path.join(REPO, 'dist/completion/xenkit.bash');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'xenkit-man-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('man pages', () => {
  it.each(COMMANDS)('%s.1 renders without warnings and documents every option of --help', async (cmd) => {
    const page = path.join(MAN, `${cmd}.1`);
    const lint = await runCommand(['groff', '-man', '-ww', '-z', page], { allowFailure: true });
    expect(lint.stderr).toBe('');
    expect(lint.exitCode).toBe(0);
    const source = readFileSync(page, 'utf8')
      .replace(/\\-/g, '-')
      .replace(/\(no\)/g, '');
    const help = await runBin(cmd, ['--help']);
    const options = longOptions(help.stdout);
    expect(options.length).toBeGreaterThan(0);
    for (const option of options) expect(source, `--${option}`).toContain(`--${option}`);
  });

  it('xm.1 and xenkit.1 describe each subcommand with its own options', async () => {
    const xm = readFileSync(path.join(MAN, 'xm.1'), 'utf8').replace(/\\-/g, '-');
    const memSet = await runBin('xm', ['mem-set', '--help']);
    expect(xm).toContain('.SS mem-set');
    for (const option of longOptions(memSet.stdout)) expect(xm).toContain(`--${option}`);
    const xenkit = readFileSync(path.join(MAN, 'xenkit.1'), 'utf8');
    for (const sub of ['clone', 'delete-image', 'resize-image', 'doctor', 'create']) {
      expect(xenkit).toContain(`.SS ${sub}\n`);
    }
  });
});

describe('bash completion', () => {
  const root = path.join(scratch, 'root');
  mkdirSync(path.join(root, 'etc/xen'), { recursive: true });
  for (const guest of ['web1', 'db'])
    writeFileSync(path.join(root, 'etc/xen', `${guest}.cfg`), `name = '${guest}'\n`);

  /** COMPREPLY for the command line `words` (the last one being completed). */
  async function complete(...words: string[]): Promise<string[]> {
    const script = `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _xenkit_complete; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const result = await runCommand(['bash', '-c', script, 'bash', COMPLETION, ...words], {
      env: { ...process.env, XENKIT_ROOT: root },
    });
    return result.stdout.split('\n').filter(Boolean);
  }

  it('is valid bash', async () => {
    expect((await runCommand(['bash', '-n', COMPLETION], { allowFailure: true })).exitCode).toBe(0);
  });

  it('completes subcommands, their options, and guest names from /etc/xen', async () => {
    expect(await complete('xm', 'cr')).toEqual(['create']);
    expect(await complete('xenkit', 'res')).toEqual(['reset-identity', 'resize-image', 'restore']);
    expect(await complete('xm', 'list', '--a')).toEqual(['--all', '--all-hosts']);
    expect(await complete('xm', 'destroy', '')).toEqual(['db', 'web1']);
    expect(await complete('xen-delete-image', 'w')).toEqual(['web1']);
  });

  it('completes xen-create-image options, --no forms and the = of options that take a value', async () => {
    expect(await complete('xen-create-image', '--hostn')).toEqual(['--hostname=']);
    expect(await complete('xen-create-image', '--nobo')).toEqual(['--noboot']);
    expect(await complete('xenkit', 'clone', '--lin')).toEqual(['--linked']);
  });
});
