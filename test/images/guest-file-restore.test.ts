import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TreeEditor } from '../../src/customize/tree-editor.js';
import { restoreGuestFilesIn, saveGuestFile } from '../../src/images/guest-file-restore.js';

describe('files replaced inside a guest tree, put back after a crash', () => {
  let tree: string;
  beforeEach(() => {
    tree = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-guest-files-'));
    fs.mkdirSync(path.join(tree, 'etc'));
    fs.mkdirSync(path.join(tree, 'usr/sbin'), { recursive: true });
  });
  afterEach(() => fs.rmSync(tree, { recursive: true, force: true }));

  /** Saves then writes each file as update-image does; returns what the journal would hold. */
  const replace = (writes: [string, string][]) => {
    const editor = new TreeEditor(tree);
    const saved = writes.map(([file, data]) => saveGuestFile(editor, file, data));
    for (const [file, data] of writes) editor.writeFile(file, data, { mode: 0o755 });
    // The records go through JSON in the journal.
    return JSON.parse(JSON.stringify(saved)) as typeof saved;
  };

  it('puts back a regular file with its mode, a symlink, and removes a file that was not there', () => {
    fs.writeFileSync(path.join(tree, 'etc/hosts'), '127.0.0.1 guest\n', { mode: 0o640 });
    fs.chmodSync(path.join(tree, 'etc/hosts'), 0o640);
    fs.symlinkSync('../run/systemd/resolve/stub-resolv.conf', path.join(tree, 'etc/resolv.conf'));
    const saved = replace([
      ['/usr/sbin/policy-rc.d', '#!/bin/sh\nexit 101\n'],
      ['/etc/resolv.conf', 'nameserver 192.0.2.53\n'],
      ['/etc/hosts', '127.0.0.1 host\n'],
    ]);
    expect(fs.lstatSync(path.join(tree, 'etc/resolv.conf')).isFile()).toBe(true);
    expect(restoreGuestFilesIn(tree, saved)).toEqual([
      'removed /usr/sbin/policy-rc.d',
      'put back /etc/resolv.conf (-> ../run/systemd/resolve/stub-resolv.conf)',
      'put back /etc/hosts',
    ]);
    expect(fs.existsSync(path.join(tree, 'usr/sbin/policy-rc.d'))).toBe(false);
    expect(fs.readlinkSync(path.join(tree, 'etc/resolv.conf'))).toBe(
      '../run/systemd/resolve/stub-resolv.conf',
    );
    expect(fs.readFileSync(path.join(tree, 'etc/hosts'), 'utf8')).toBe('127.0.0.1 guest\n');
    expect(fs.statSync(path.join(tree, 'etc/hosts')).mode & 0o777).toBe(0o640);
    // Done once: a second recovery finds nothing to do.
    expect(restoreGuestFilesIn(tree, saved)).toEqual([]);
  });

  it('leaves a file that changed since the run wrote it', () => {
    fs.writeFileSync(path.join(tree, 'etc/resolv.conf'), 'nameserver 10.0.0.1\n');
    const saved = replace([['/etc/resolv.conf', 'nameserver 192.0.2.53\n']]);
    fs.writeFileSync(path.join(tree, 'etc/resolv.conf'), 'nameserver 10.9.9.9\n');
    expect(restoreGuestFilesIn(tree, saved)).toEqual(['left /etc/resolv.conf as it is (changed since)']);
    expect(fs.readFileSync(path.join(tree, 'etc/resolv.conf'), 'utf8')).toBe('nameserver 10.9.9.9\n');
  });

  it('never follows a symlink of the guest out of the tree', () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-outside-'));
    try {
      const saved = replace([['/etc/resolv.conf', 'nameserver 192.0.2.53\n']]);
      fs.rmSync(path.join(tree, 'etc'), { recursive: true });
      fs.symlinkSync(outside, path.join(tree, 'etc'));
      fs.writeFileSync(path.join(outside, 'resolv.conf'), 'nameserver 192.0.2.53\n');
      restoreGuestFilesIn(tree, saved);
      expect(fs.readFileSync(path.join(outside, 'resolv.conf'), 'utf8')).toBe('nameserver 192.0.2.53\n');
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });
});
