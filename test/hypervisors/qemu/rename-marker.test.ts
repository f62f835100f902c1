/** A renamed running QEMU guest: the marker that maps its QEMU's old -name to the new one. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { originDirOf, renamedOwner, renameMarkerPath } from '../../../src/hypervisors/qemu/qemu-processes.js';

let stateDir: string;
beforeEach(() => {
  stateDir = mkdtempSync(path.join(os.tmpdir(), 'xenkit-rename-'));
  mkdirSync(path.join(stateDir, 'qemu'));
});
afterEach(() => rmSync(stateDir, { recursive: true, force: true }));

describe('rename markers', () => {
  it('name the new guest for the QEMU whose pid they hold, and no other', () => {
    writeFileSync(renameMarkerPath(stateDir, 'web'), 'www 4242\n');
    expect(renamedOwner(stateDir, 'web', 4242)).toBe('www');
    // A later guest called web again has another QEMU.
    expect(renamedOwner(stateDir, 'web', 5000)).toBeUndefined();
    expect(renamedOwner(stateDir, 'db', 4242)).toBeUndefined();
  });

  it('are not guest directories, and a name in one that is a path is ignored', () => {
    expect(path.basename(renameMarkerPath(stateDir, 'web'))).toBe('.renamed-web');
    writeFileSync(renameMarkerPath(stateDir, 'web'), '../x 4242\n');
    expect(renamedOwner(stateDir, 'web', 4242)).toBeUndefined();
  });

  it('find the directory a QEMU started in from its -pidfile', () => {
    expect(originDirOf(['qemu-system-x86_64', '-pidfile', '/run/xenkit/qemu/web/qemu.pid'])).toBe(
      '/run/xenkit/qemu/web',
    );
    expect(originDirOf(['qemu-system-x86_64'])).toBeUndefined();
  });
});
