import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TreeEditor } from '../../src/customize/tree-editor.js';
import { resolveGuestPath } from '../../src/customize/tree-path.js';
import { tempDir, writeFiles } from '../helpers/customize-fixtures.js';

const dirs: string[] = [];
function tree(): string {
  const dir = tempDir();
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('resolveGuestPath', () => {
  it('follows an absolute symlink in a parent inside the tree, not on the host', () => {
    const root = tree();
    fs.mkdirSync(path.join(root, 'usr/lib'), { recursive: true });
    fs.symlinkSync('/usr/lib', path.join(root, 'lib'));
    expect(resolveGuestPath(root, '/lib/systemd/x')).toBe('/usr/lib/systemd/x');
  });

  it('keeps .. from climbing out of the tree', () => {
    const root = tree();
    fs.mkdirSync(path.join(root, 'etc'));
    fs.symlinkSync('../../../../tmp', path.join(root, 'etc/up'));
    expect(resolveGuestPath(root, '/etc/up/file')).toBe('/tmp/file');
  });

  it('stops at symlink loops', () => {
    const root = tree();
    fs.symlinkSync('/b', path.join(root, 'a'));
    fs.symlinkSync('/a', path.join(root, 'b'));
    expect(() => resolveGuestPath(root, '/a/x')).toThrow(/too many levels/);
  });
});

describe('TreeEditor', () => {
  it('replaces a symlink pointing at a host file instead of writing through it', () => {
    const root = tree();
    const hostFile = path.join(tree(), 'host-resolv.conf');
    fs.writeFileSync(hostFile, 'host content\n');
    fs.mkdirSync(path.join(root, 'etc'));
    fs.symlinkSync(hostFile, path.join(root, 'etc/resolv.conf'));
    new TreeEditor(root).writeFile('/etc/resolv.conf', 'nameserver 1.1.1.1\n');
    expect(fs.readFileSync(hostFile, 'utf8')).toBe('host content\n');
    expect(fs.lstatSync(path.join(root, 'etc/resolv.conf')).isFile()).toBe(true);
  });

  it('writes under a directory symlink into the tree', () => {
    const root = tree();
    fs.symlinkSync('/elsewhere', path.join(root, 'etc'));
    new TreeEditor(root).writeFile('/etc/hostname', 'x\n');
    expect(fs.readFileSync(path.join(root, 'elsewhere/hostname'), 'utf8')).toBe('x\n');
  });

  it('sets the requested mode', () => {
    const root = tree();
    new TreeEditor(root).writeFile('/etc/secret', 's', { mode: 0o600 });
    expect(fs.statSync(path.join(root, 'etc/secret')).mode & 0o777).toBe(0o600);
  });

  it('rolls every change back: contents, modes, symlinks, removed files and new directories', () => {
    const root = tree();
    writeFiles(root, { 'etc/hostname': 'old\n', 'etc/gone': 'keep me\n' });
    fs.chmodSync(path.join(root, 'etc/hostname'), 0o640);
    fs.symlinkSync('/run/x', path.join(root, 'etc/link'));
    const editor = new TreeEditor(root);
    editor.writeFile('/etc/hostname', 'new\n');
    editor.writeFile('/etc/link', 'file now\n');
    editor.remove('/etc/gone');
    editor.writeFile('/etc/systemd/network/10.network', 'x');
    editor.symlink('/etc/systemd/system/a.wants/b.service', '/lib/systemd/system/b.service');
    editor.rollback();
    expect(fs.readFileSync(path.join(root, 'etc/hostname'), 'utf8')).toBe('old\n');
    expect(fs.statSync(path.join(root, 'etc/hostname')).mode & 0o777).toBe(0o640);
    expect(fs.readlinkSync(path.join(root, 'etc/link'))).toBe('/run/x');
    expect(fs.readFileSync(path.join(root, 'etc/gone'), 'utf8')).toBe('keep me\n');
    expect(fs.existsSync(path.join(root, 'etc/systemd'))).toBe(false);
  });
});
