import { describe, expect, it } from 'vitest';
import { renderCreateImageHelp } from '../../src/cli/create-image-options.js';
import { flagsOf } from '../../src/config/create-image-flags.js';
import { CREATE_IMAGE_OPTIONS } from '../../src/config/options.js';
import type { Settings } from '../../src/config/settings.js';

describe('renderCreateImageHelp', () => {
  const help = renderCreateImageHelp();

  it('lists every command-line option of the table, and no conf-only key', () => {
    for (const def of CREATE_IMAGE_OPTIONS) {
      const shown = def.kind === 'negatable' ? `--(no)${def.name}` : `--${def.name}`;
      if (def.onCli === false) expect(help).not.toContain(`--${def.name}`);
      else expect(help, def.name).toContain(shown);
    }
  });

  it('explains the order of the layers and the difference from xen-tools', () => {
    const order = ['built-in defaults', 'xen-tools.conf', '--config FILE', 'the command line'].map((s) =>
      help.indexOf(s),
    );
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(help).toMatch(/xen-tools 4\.9\.2, which read --config after the command line/);
  });

  it('groups options like the manual, with defaults', () => {
    const titles = [
      'Help options:',
      'Size / general options:',
      'Installation options:',
      'Networking options:',
      'Storage options',
    ];
    const at = titles.map((t) => help.indexOf(t));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect(help).toMatch(/--size=SIZE\s+Root disk size .*\[default: 4G\]/);
    expect(help).toMatch(/--genpass_len=N, --genpass-len=N/);
  });
});

describe('flagsOf', () => {
  const cli = (values: Record<string, boolean | string>): Settings =>
    Object.fromEntries(
      Object.entries(values).map(([k, v]) => [k, { value: v, origin: { kind: 'cli', flag: `--${k}` } }]),
    );

  it('reads command flags, --manual as help and --debug as dumpconfig', () => {
    expect(flagsOf(cli({ 'dry-run': true, json: true, manual: true, debug: true, verbose: '1' }))).toEqual({
      dryRun: true,
      json: true,
      quiet: false,
      verbose: true,
      help: true,
      version: false,
      dumpConfig: true,
    });
    expect(Object.values(flagsOf({})).some(Boolean)).toBe(false);
  });
});

describe('xen-create-image --dry-run', () => {
  it('says what --boot does after the build, in text and in JSON', async () => {
    const { runBin } = await import('../helpers/cli.js');
    const { makeRoot } = await import('../helpers/config-fixtures.js');
    const { root, cleanup } = makeRoot({ 'etc/xen-tools/': '' });
    try {
      const args = [`--root=${root}`, '--hostname=web1', '--dir=/srv', '--dhcp', '--boot', '--dry-run'];
      const text = await runBin('xen-create-image', args);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toContain(
        `Then (--boot): start the guest as \`xm create ${root}/etc/xen/web1.cfg\` does`,
      );
      const json = await runBin('xen-create-image', [...args, '--json']);
      expect((JSON.parse(json.stdout) as { then: string[] }).then[0]).toMatch(
        /^start the guest as `xm create /,
      );
      const without = await runBin(
        'xen-create-image',
        args.filter((a) => a !== '--boot'),
      );
      expect(without.stdout).not.toContain('--boot');
    } finally {
      cleanup();
    }
  });
});
