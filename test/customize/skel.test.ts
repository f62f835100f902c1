import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findDistribution } from '../../src/config/distributions.js';
import { applySkel, describeSkel } from '../../src/customize/skel.js';
import { TreeEditor } from '../../src/customize/tree-editor.js';
import { HOST_FILES } from '../../src/customize/types.js';
import { makeContext, makeSpec, tempDir, writeFiles } from '../helpers/customize-fixtures.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('the skel step', () => {
  it('copies files, modes and links to the same paths, keeps the mode of directories the guest has, and undoes it all', async () => {
    const skel = tempDir('xenkit-skel-');
    const root = tempDir('xenkit-tree-');
    dirs.push(skel, root);
    writeFiles(skel, { 'etc/motd': 'hello\n', 'root/.bashrc.local': 'alias l=ls\n' });
    fs.chmodSync(path.join(skel, 'root/.bashrc.local'), 0o600);
    fs.symlinkSync('motd', path.join(skel, 'etc/motd.link'));
    fs.mkdirSync(path.join(root, 'etc'), { mode: 0o755 });
    fs.chmodSync(path.join(skel, 'etc'), 0o700);
    const spec = makeSpec();
    spec.hooks.skelDir = skel;
    const editor = new TreeEditor(root);
    const { ctx } = makeContext();
    const dist = findDistribution('bookworm')!;
    await applySkel({
      root,
      spec,
      ids: { rootUuid: 'u', rootFs: 'ext4' },
      dist,
      editor,
      step: ctx,
      host: HOST_FILES,
      useSystemctl: false,
      result: { sshHostKeys: [], warnings: [] },
    });
    expect(fs.readFileSync(path.join(root, 'etc/motd'), 'utf8')).toBe('hello\n');
    expect(fs.readlinkSync(path.join(root, 'etc/motd.link'))).toBe('motd');
    expect(fs.statSync(path.join(root, 'root/.bashrc.local')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(root, 'etc')).mode & 0o777).toBe(0o755);
    editor.rollback();
    expect(fs.readdirSync(path.join(root, 'etc'))).toEqual([]);
    expect(describeSkel(skel)[0]).toMatchObject({ kind: 'note', text: expect.stringContaining(skel) });
    expect(describeSkel(undefined)).toEqual([]);
  });
});
