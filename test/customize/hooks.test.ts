import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  isIgnoredHookName,
  listHooks,
  replacedStepIds,
  runHooks,
  runRoles,
} from '../../src/customize/hooks.js';
import { makeContext, makeSpec, tempDir, writeFiles } from '../helpers/customize-fixtures.js';

const dirs: string[] = [];
function dir(): string {
  const d = tempDir('xenkit-hooks-');
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const SCRIPT = (body: string): string => `#!/bin/sh\n${body}\n`;

describe('listHooks', () => {
  it('lists executables in name order and skips backups, dpkg leftovers and plain files', () => {
    const d = dir();
    writeFiles(
      d,
      {
        '20-b': SCRIPT(''),
        '10-a': SCRIPT(''),
        '30-c~': SCRIPT(''),
        '40-d.dpkg-old': SCRIPT(''),
        '.hidden': SCRIPT(''),
      },
      0o755,
    );
    writeFiles(d, { '15-not-executable': SCRIPT('') }, 0o644);
    expect(listHooks([d]).map((h) => h.name)).toEqual(['10-a', '20-b']);
  });

  it('lets a later directory replace an earlier hook of the same name', () => {
    const builtin = dir();
    const local = dir();
    writeFiles(builtin, { '10-a': SCRIPT(''), '20-b': SCRIPT('') }, 0o755);
    writeFiles(local, { '20-b': SCRIPT('') }, 0o755);
    const hooks = listHooks([builtin, local]);
    expect(hooks.map((h) => h.path)).toEqual([path.join(builtin, '10-a'), path.join(local, '20-b')]);
  });

  it('names a hook directory that does not exist', () => {
    expect(() => listHooks(['/nonexistent/hooks.d'])).toThrow(/"\/nonexistent\/hooks.d" does not exist/);
  });

  it.each([
    ['50-x.swp', true],
    ['#50-x#', true],
    ['50-x.bak', true],
    ['50-setup', false],
  ])('treats %s as ignored: %s', (name, ignored) => {
    expect(isIgnoredHookName(name)).toBe(ignored);
  });
});

describe('replacedStepIds', () => {
  it('matches a hook named ID or NN-ID to a built-in step', () => {
    const hooks = [
      { name: '40-network', path: '/h/40-network' },
      { name: 'fstab', path: '/h/fstab' },
      { name: '99-other', path: '/h/99-other' },
    ];
    expect([...replacedStepIds(hooks, ['network', 'fstab', 'apt'])].sort()).toEqual(['fstab', 'network']);
  });

  it.each([
    ['40-setup-networking', 'network'],
    ['20-setup-apt', 'apt'],
    ['50-setup-hostname', 'hostname'],
    ['90-make-fstab', 'fstab'],
    ['65-copy-user-files', 'skel'],
    ['80-install-kernel', 'boot-menu'],
  ])("matches xen-tools' hook %s to the built-in step %s", (name, step) => {
    const all = ['apt', 'hostname', 'network', 'fstab', 'boot-menu', 'skel', 'console'];
    expect([...replacedStepIds([{ name, path: `/h/${name}` }], all)]).toEqual([step]);
  });

  it('replaces nothing for a hook of another name', () => {
    expect(replacedStepIds([{ name: '45-setup-extra', path: '/h/x' }], ['network']).size).toBe(0);
  });
});

describe('runHooks', () => {
  it('runs each hook with the root as argument and the settings in the environment, minus secrets', async () => {
    const hooksDir = dir();
    const root = dir();
    writeFiles(hooksDir, { '10-env': SCRIPT('env > "$1/env.txt"; echo "argc=$#" >> "$1/env.txt"') }, 0o755);
    const spec = makeSpec();
    spec.hooks.dirs = [hooksDir];
    const { ctx, events } = makeContext();
    await runHooks(root, spec, { hostname: 'web1', ip1: '192.168.1.10', password: 'leak' }, ctx);
    const env = fs.readFileSync(path.join(root, 'env.txt'), 'utf8');
    expect(env).toContain('hostname=web1\n');
    expect(env).toContain('ip1=192.168.1.10\n');
    expect(env).toContain('argc=1');
    expect(env).not.toContain('leak');
    expect(events.some((e) => e.type === 'exec' && e.argv[0] === path.join(hooksDir, '10-env'))).toBe(true);
  });

  it('keeps daemons from starting while hooks run, then removes the guard', async () => {
    const hooksDir = dir();
    const root = dir();
    fs.mkdirSync(path.join(root, 'usr/sbin'), { recursive: true });
    writeFiles(
      hooksDir,
      { '10-check': SCRIPT('"$1/usr/sbin/policy-rc.d"; echo $? > "$1/policy.txt"') },
      0o755,
    );
    const spec = makeSpec();
    spec.hooks.dirs = [hooksDir];
    await runHooks(root, spec, {}, makeContext().ctx);
    expect(fs.readFileSync(path.join(root, 'policy.txt'), 'utf8').trim()).toBe('101');
    expect(fs.existsSync(path.join(root, 'usr/sbin/policy-rc.d'))).toBe(false);
  });

  it('fails naming the hook that failed, and runs none after it', async () => {
    const hooksDir = dir();
    const root = dir();
    writeFiles(
      hooksDir,
      { '10-fail': SCRIPT('echo broken >&2; exit 3'), '20-after': SCRIPT('touch "$1/after"') },
      0o755,
    );
    const spec = makeSpec();
    spec.hooks.dirs = [hooksDir];
    await expect(runHooks(root, spec, {}, makeContext().ctx)).rejects.toThrow(
      `guest "web1": hook "${path.join(hooksDir, '10-fail')}" exited with status 3`,
    );
    expect(fs.existsSync(path.join(root, 'after'))).toBe(false);
  });

  it('runs nothing when hooks are disabled', async () => {
    const hooksDir = dir();
    const root = dir();
    writeFiles(hooksDir, { '10-touch': SCRIPT('touch "$1/ran"') }, 0o755);
    const spec = makeSpec();
    spec.hooks = { ...spec.hooks, enabled: false, dirs: [hooksDir] };
    await runHooks(root, spec, {}, makeContext().ctx);
    expect(fs.existsSync(path.join(root, 'ran'))).toBe(false);
  });
});

describe('runRoles', () => {
  it('runs roles from roleDir or an absolute path with the role arguments after the root', async () => {
    const roleDir = dir();
    const other = dir();
    const root = dir();
    writeFiles(roleDir, { builder: SCRIPT('echo "builder $*" >> "$1/roles.txt"') }, 0o755);
    writeFiles(other, { custom: SCRIPT('echo "custom $*" >> "$1/roles.txt"') }, 0o755);
    const spec = makeSpec();
    spec.hooks = { ...spec.hooks, roleDir, roleArgs: '--fast  x' };
    await runRoles(['builder', path.join(other, 'custom')], root, spec, {}, makeContext().ctx);
    expect(fs.readFileSync(path.join(root, 'roles.txt'), 'utf8')).toBe(
      `builder ${root} --fast x\ncustom ${root} --fast x\n`,
    );
  });

  it('refuses a role that does not exist before running any', async () => {
    const spec = makeSpec();
    spec.hooks.roleDir = dir();
    await expect(runRoles(['nope'], dir(), spec, {}, makeContext().ctx)).rejects.toThrow(
      /role "nope" has no executable/,
    );
  });
});
