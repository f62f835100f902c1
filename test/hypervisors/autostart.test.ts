import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  disableAutostart,
  enableAutostart,
  listAutostart,
  listDefinedConfigs,
} from '../../src/hypervisors/autostart.js';
import { makePaths, type Paths } from '../../src/paths.js';

let root: string;
let paths: Paths;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-autostart-'));
  paths = makePaths(root);
  fs.mkdirSync(paths.xenDir, { recursive: true });
  for (const name of ['web', 'db'])
    fs.writeFileSync(path.join(paths.xenDir, `${name}.cfg`), `name = '${name}'\n`);
  fs.writeFileSync(path.join(paths.xenDir, 'xl.conf'), '');
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe('autostart links', () => {
  it('creates the auto directory and a relative link, once', async () => {
    expect(await enableAutostart(paths, 'web')).toBe(true);
    expect(await enableAutostart(paths, 'web')).toBe(false);
    const link = path.join(paths.autoDir, 'web.cfg');
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fs.readlinkSync(link)).toBe('../web.cfg');
    expect(fs.readFileSync(link, 'utf8')).toBe("name = 'web'\n");
  });

  it('refuses a guest whose config does not exist', async () => {
    await expect(enableAutostart(paths, 'nope')).rejects.toMatchObject({ code: 'E_NO_CFG', kind: 'usage' });
    expect(fs.existsSync(paths.autoDir)).toBe(false);
  });

  it('removes only the link, and reports when there was none', async () => {
    await enableAutostart(paths, 'db');
    expect(await disableAutostart(paths, 'db')).toBe(true);
    expect(await disableAutostart(paths, 'db')).toBe(false);
    expect(fs.existsSync(path.join(paths.xenDir, 'db.cfg'))).toBe(true);
  });

  it('leaves a plain file in auto/ alone: it may be the only copy', async () => {
    fs.mkdirSync(paths.autoDir);
    fs.writeFileSync(path.join(paths.autoDir, 'web.cfg'), 'name = "web"\n');
    await expect(disableAutostart(paths, 'web')).rejects.toMatchObject({ code: 'E_AUTOSTART_NOT_LINK' });
    await expect(enableAutostart(paths, 'web')).rejects.toMatchObject({ code: 'E_AUTOSTART_TAKEN' });
    expect(await listAutostart(paths)).toEqual([
      {
        name: 'web',
        linkPath: path.join(paths.autoDir, 'web.cfg'),
        cfgPath: path.join(paths.autoDir, 'web.cfg'),
        exists: true,
      },
    ]);
  });

  it('lists links with their targets, dangling ones included', async () => {
    await enableAutostart(paths, 'web');
    await enableAutostart(paths, 'db');
    fs.rmSync(path.join(paths.xenDir, 'db.cfg'));
    const entries = await listAutostart(paths);
    expect(entries.map((e) => [e.name, e.cfgPath, e.exists])).toEqual([
      ['db', path.join(paths.xenDir, 'db.cfg'), false],
      ['web', path.join(paths.xenDir, 'web.cfg'), true],
    ]);
  });

  it('lists the defined configs, only *.cfg', async () => {
    expect((await listDefinedConfigs(paths)).map((c) => c.name)).toEqual(['db', 'web']);
    expect(await listAutostart(makePaths(path.join(root, 'empty')))).toEqual([]);
  });
});
