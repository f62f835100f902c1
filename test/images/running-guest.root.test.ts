/**
 * A guest that runs is untouchable, however it was started: a real QEMU (TCG, halted with -S, no
 * guest needs to boot) holds the image of a guest whose cfg `name` differs from its file name,
 * and there is no runtime-registry record of it. delete, update, resize, clone and create --force
 * must each refuse with E_RUNNING naming QEMU's pid, and change nothing. Needs root and QEMU.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePaths, type Paths } from '../../src/paths.js';
import { runBin } from '../helpers/cli.js';

const isRoot = process.getuid?.() === 0;

/** Every path under `dir` with its type, size, inode and mtime (what any change would move). */
function snapshot(dir: string): string[] {
  return (
    fs
      .readdirSync(dir, { recursive: true, encoding: 'utf8' })
      // xenkit's own state directories (locks; the run journal and run temporaries under
      // var/lib/xenkit, checked empty below) are made on first use; create-image appends its
      // attempt to the guest's log; a listing keeps its cache (var/cache/xenkit/listing-*.json).
      .filter(
        (p) =>
          !p.startsWith('run') &&
          p !== 'var' &&
          !p.startsWith('var/lib') &&
          p !== 'var/log/xen-tools/web1.log' &&
          p !== 'var/cache' &&
          p !== 'var/cache/xenkit' &&
          !/^var\/cache\/xenkit\/listing-[a-z-]+\.json$/.test(p),
      )
      .sort()
      .map((p) => {
        const s = fs.lstatSync(path.join(dir, p));
        const content = s.isFile() && s.size < 4096 ? fs.readFileSync(path.join(dir, p), 'utf8') : '';
        return `${p} ${s.mode} ${s.size} ${s.ino} ${s.mtimeMs} ${content}`;
      })
  );
}

describe.skipIf(!isRoot)('a guest running under QEMU with no registry record and another name', () => {
  let scratch: string;
  let paths: Paths;
  let qemu: ChildProcess;
  let disk: string;

  beforeAll(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-running-root-'));
    paths = makePaths(path.join(scratch, 'root'));
    const dir = path.join(paths.root, 'srv/domains/web1');
    fs.mkdirSync(dir, { recursive: true });
    disk = path.join(dir, 'disk.img');
    const swap = path.join(dir, 'swap.img');
    fs.writeFileSync(disk, '');
    fs.truncateSync(disk, 256 << 20);
    execFileSync('mkfs.ext4', ['-q', '-F', disk]);
    fs.writeFileSync(swap, '');
    fs.truncateSync(swap, 32 << 20);
    fs.mkdirSync(paths.xenDir, { recursive: true });
    // The file is web1.cfg, the domain is called prod-web: xm and QEMU know it by that name.
    fs.writeFileSync(
      path.join(paths.xenDir, 'web1.cfg'),
      `name = 'prod-web'\nmemory = '128'\ndisk = [\n  'file:${disk},xvda2,w',\n  'file:${swap},xvda1,w',\n]\n` +
        "vif = [ 'mac=00:16:3E:00:00:09' ]\n",
    );
    fs.mkdirSync(paths.logDir, { recursive: true });
    fs.writeFileSync(path.join(paths.logDir, 'web1.log'), 'created\n');
    fs.mkdirSync(path.join(scratch, 'tree/etc'), { recursive: true });
    execFileSync('tar', ['-C', path.join(scratch, 'tree'), '-cf', path.join(paths.root, 'tree.tar'), '.']);
    fs.writeFileSync(path.join(paths.root, 'pw'), 'Correct-Horse-7\n');
    qemu = spawn(
      'qemu-system-x86_64',
      [
        '-accel',
        'tcg',
        '-S',
        '-display',
        'none',
        '-nodefaults',
        '-m',
        '64',
        '-name',
        'prod-web',
        '-drive',
        `file=${disk},format=raw,if=virtio`,
        '-drive',
        `file=${swap},format=raw,if=virtio`,
      ],
      { stdio: 'ignore' },
    );
    // Running once its image lock is taken.
    for (let i = 0; i < 100 && !fs.readFileSync('/proc/locks', 'utf8').includes('OFDLCK'); i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(qemu.exitCode).toBeNull();
  }, 60_000);

  afterAll(() => {
    qemu?.kill('SIGKILL');
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  it.each([
    ['xenkit', ['delete-image', 'web1']],
    ['xen-delete-image', ['--dir=/srv', 'web1']],
    ['xenkit', ['update-image', 'web1']],
    ['xen-update-image', ['--dir=/srv', 'web1']],
    ['xenkit', ['resize-image', 'web1', '--size=512M']],
    ['xenkit', ['clone', 'web1', 'web2']],
    ['xenkit', ['clone', 'web1', 'web3', '--linked']],
    [
      'xen-create-image',
      [
        '--hostname=web1',
        '--force',
        '--dir=/srv',
        '--size=512M',
        '--swap=32M',
        '--dhcp',
        '--install-method=tar',
        '--install-source=/tree.tar',
        '--password-file=/pw',
      ],
    ],
  ])(
    '%s %j refuses it (E_RUNNING with the pid) and changes nothing',
    async (bin, args) => {
      const before = snapshot(paths.root);
      const result = await runBin(bin, [...args, `--root=${paths.root}`, '--json'], { timeoutMs: 120_000 });
      expect(result.code, result.stdout + result.stderr).toBe(1);
      const body = JSON.parse(result.stdout) as {
        error?: { code: string; message: string };
        guests?: { error: { code: string; message: string } }[];
      };
      const error = body.error ?? body.guests?.[0]?.error;
      expect(error?.code).toBe('E_RUNNING');
      expect(error?.message).toContain(`(pid ${qemu.pid}) has it open`);
      expect(snapshot(paths.root)).toEqual(before);
      // No journal and no temporaries of the refused run are left.
      for (const state of ['var/lib/xenkit/runs', 'var/lib/xenkit/tmp']) {
        const dir = path.join(paths.root, state);
        expect(fs.existsSync(dir) ? fs.readdirSync(dir) : []).toEqual([]);
      }
      expect(qemu.exitCode).toBeNull();
    },
    150_000,
  );

  it('is listed running by its image, the same by the listing bundle and by the whole CLI', async () => {
    const before = snapshot(paths.root);
    const lean = await runBin('xen-list-images', [`--root=${paths.root}`, '--json']);
    expect(lean.code, lean.stderr).toBe(0);
    const { guests } = JSON.parse(lean.stdout) as { guests: { name: string; running: unknown }[] };
    expect(guests.map((g) => [g.name, g.running])).toEqual([['prod-web', 'image']]);
    expect(await runBin('xenkit', ['list-images', `--root=${paths.root}`, '--json'])).toEqual(lean);
    const text = await runBin('xen-list-images', [`--root=${paths.root}`]);
    expect(text.stdout).toContain('Name: prod-web\n');
    expect(await runBin('xenkit', ['list-images', `--root=${paths.root}`])).toEqual(text);
    expect(snapshot(paths.root)).toEqual(before);
  });
});
