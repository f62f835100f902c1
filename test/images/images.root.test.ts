/**
 * clone, delete-image, list-images and update-image against the real tools: one bookworm guest
 * built by xen-create-image, then a full and a linked clone checked inside their images (without
 * booting), a failed clone that must leave nothing, list, apt in the image, deletes. Needs root.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main as deleteMain } from '../../src/cli/bin/xen-delete-image.js';
import { addImageCommands } from '../../src/cli/images/index.js';
import { buildClonePlan } from '../../src/images/clone-plan.js';
import { deriveXenToolsMac } from '../../src/model/mac.js';
import { makePaths, type Paths } from '../../src/paths.js';
import { executePlan } from '../../src/plan/executor.js';
import { runtimePathsFor } from '../../src/hypervisors/qemu/runtime-paths.js';
import { captureIo } from '../helpers/capture-io.js';
import { runBin } from '../helpers/cli.js';
import { imageUuid, withMountedImage } from '../helpers/image-files.js';
import { shareXenkitCache } from '../helpers/shared-xenkit-cache.js';
import { hostStorageState } from '../helpers/storage-fixtures.js';

const isRoot = process.getuid?.() === 0;

const capture = captureIo;

/** Runs `xenkit ARGS` (the image commands) in this process; returns status and output. */
async function xenkit(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = capture();
  process.exitCode = undefined;
  const program = new Command('xenkit').exitOverride();
  addImageCommands(program, { io: c.io, xl: false });
  let code: number;
  try {
    await program.parseAsync(args, { from: 'user' });
    code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    code = 1;
    c.io.stderr.write(String((error as Error).message));
  }
  process.exitCode = undefined;
  return { code, out: c.out(), err: c.err() };
}

/** Fingerprints of the SSH host keys in a mounted tree. */
function hostKeyPrints(tree: string): string[] {
  const dir = path.join(tree, 'etc/ssh');
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.pub'))
    .sort()
    .map(
      (n) =>
        execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', path.join(dir, n)], {
          encoding: 'utf8',
        }).split(' ')[1] ?? '',
    );
}

interface TreeFacts {
  hostname: string;
  network: string;
  fstab: string;
  menu: string;
  machineId: string;
  seed: string;
  prints: string[];
}

function readTree(image: string): TreeFacts {
  return withMountedImage(image, (t) => ({
    hostname: fs.readFileSync(path.join(t, 'etc/hostname'), 'utf8').trim(),
    network: fs.readFileSync(path.join(t, 'etc/systemd/network/10-xenkit.network'), 'utf8'),
    fstab: fs.readFileSync(path.join(t, 'etc/fstab'), 'utf8'),
    menu: fs.readFileSync(path.join(t, 'boot/grub/menu.lst'), 'utf8'),
    machineId: fs.readFileSync(path.join(t, 'etc/machine-id'), 'utf8'),
    seed: fs.readFileSync(path.join(t, 'var/lib/systemd/random-seed')).toString('hex'),
    prints: hostKeyPrints(t),
  }));
}

/** A raw copy of a (qcow2) image, read through qemu-img itself, for the same checks. */
function rawCopy(image: string, scratch: string): string {
  const out = path.join(scratch, `${path.basename(path.dirname(image))}-${path.basename(image)}.raw`);
  execFileSync('qemu-img', ['convert', '-O', 'raw', image, out]);
  return out;
}

describe.skipIf(!isRoot)('clone, delete, list and update real guests', () => {
  let scratch: string;
  let paths: Paths;
  let domains: string;
  let source: TreeFacts;
  let sourceUuid: string;
  const timings: Record<string, unknown> = {};

  beforeAll(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-images-root-'));
    paths = makePaths(path.join(scratch, 'root'));
    fs.mkdirSync(paths.root);
    shareXenkitCache(paths.root);
    fs.writeFileSync(path.join(paths.root, 'pw'), 'Correct-Horse-7\n');
    // A separate process, as users run it (create-image keeps its guest lock until its process exits).
    const created = await runBin('xen-create-image', [
      '--hostname=web1',
      `--root=${paths.root}`,
      '--dir=/srv',
      '--size=2G',
      '--swap=256M',
      '--dhcp',
      '--password-file=/pw',
      '--json',
    ]);
    expect(created.code, created.stderr + created.stdout).toBe(0);
    domains = path.join(paths.root, 'srv/domains');
    source = readTree(path.join(domains, 'web1/disk.img'));
    sourceUuid = imageUuid(path.join(domains, 'web1/disk.img'));
  });

  afterAll(() => {
    console.log(`clone timings: ${JSON.stringify(timings, null, 2)}`);
    for (const name of ['web1', 'web2', 'web3']) {
      for (const f of ['disk.img', 'swap.img']) {
        const file = path.join(domains ?? '/nonexistent', name, f);
        if (fs.existsSync(file)) execFileSync('chattr', ['-i', file]);
      }
    }
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  function checkIdentity(
    facts: TreeFacts,
    name: string,
    diskImage: string,
    swapImage: string,
    cfg: string,
  ): void {
    expect(facts.hostname).toBe(name);
    const cfgMac = /mac=([0-9A-F:]{17})/i.exec(cfg)?.[1] ?? '';
    expect(cfgMac).toBe(deriveXenToolsMac({ hostname: name, ips: [], dhcp: true, dist: 'bookworm' }));
    expect(facts.network).toContain(`MACAddress=${cfgMac.toLowerCase()}`);
    expect(facts.network).not.toContain(source.network.match(/MACAddress=(.*)/)?.[1] ?? '?');
    const rootUuid = imageUuid(diskImage);
    const swapUuid = imageUuid(swapImage);
    expect(rootUuid).not.toBe(sourceUuid);
    expect(facts.fstab).toContain(`UUID=${rootUuid}\t/\text4`);
    expect(facts.fstab).toContain(`UUID=${swapUuid}\tnone\tswap`);
    expect(facts.menu).toContain(`root=UUID=${rootUuid} `);
    expect(facts.menu).not.toContain(sourceUuid);
    expect(facts.machineId).toBe('');
    expect(facts.seed).not.toBe(source.seed);
    expect(facts.prints).toHaveLength(3);
    for (const print of facts.prints) expect(source.prints).not.toContain(print);
    // The filesystem is whole after the UUID change (e2fsck -n exits 0 only for a clean fs).
    execFileSync('e2fsck', ['-f', '-n', diskImage], { stdio: 'pipe' });
  }

  it('makes a full clone with a new identity, leaving the source as it was', async () => {
    const before = fs.statSync(path.join(domains, 'web1/disk.img'));
    const started = performance.now();
    const result = await xenkit(['clone', 'web1', 'web2', `--root=${paths.root}`, '--json']);
    timings.fullWallMs = Math.round(performance.now() - started);
    expect(result.code, result.err).toBe(0);
    const outcome = JSON.parse(result.out) as {
      mode: string;
      timings: Record<string, number>;
      totalMs: number;
    };
    timings.full = outcome;
    expect(outcome.mode).toBe('full');
    const disk = path.join(domains, 'web2/disk.img');
    const cfg = fs.readFileSync(path.join(paths.xenDir, 'web2.cfg'), 'utf8');
    expect(cfg).toContain(`'file:${disk},xvda2,w'`);
    expect(cfg).toMatch(/^name\s*=\s*'web2'$/m);
    checkIdentity(readTree(disk), 'web2', disk, path.join(domains, 'web2/swap.img'), cfg);
    // sparse: the copy takes no more than the source
    expect(fs.statSync(disk).blocks).toBeLessThanOrEqual(before.blocks + 2048);
    expect(fs.statSync(path.join(domains, 'web1/disk.img')).mtimeMs).toBe(before.mtimeMs);
    expect(imageUuid(path.join(domains, 'web1/disk.img'))).toBe(sourceUuid);
    expect(fs.existsSync(path.join(paths.logDir, 'web2.log'))).toBe(true);
  });

  it('makes a linked clone of qcow2 overlays and makes the source read-only', async () => {
    const started = performance.now();
    const result = await xenkit(['clone', 'web1', 'web3', '--linked', `--root=${paths.root}`, '--json']);
    timings.linkedWallMs = Math.round(performance.now() - started);
    expect(result.code, result.err).toBe(0);
    timings.linked = JSON.parse(result.out);
    const overlay = path.join(domains, 'web3/disk.img');
    const info = JSON.parse(
      execFileSync('qemu-img', ['info', '-U', '--output=json', overlay], { encoding: 'utf8' }),
    ) as Record<string, unknown>;
    expect(info['format']).toBe('qcow2');
    expect(info['full-backing-filename']).toBe(path.join(domains, 'web1/disk.img'));
    expect(fs.statSync(overlay).blocks * 512).toBeLessThan(20 << 20);
    const raw = rawCopy(overlay, scratch);
    const rawSwap = rawCopy(path.join(domains, 'web3/swap.img'), scratch);
    checkIdentity(
      readTree(raw),
      'web3',
      raw,
      rawSwap,
      fs.readFileSync(path.join(paths.xenDir, 'web3.cfg'), 'utf8'),
    );
    const base = path.join(domains, 'web1/disk.img');
    expect(execFileSync('lsattr', [base], { encoding: 'utf8' }).split(' ')[0]).toContain('i');
    expect(fs.statSync(base).mode & 0o777).toBe(0o400);
    expect(() => fs.openSync(base, 'r+')).toThrow(/EPERM/);
    expect(fs.readFileSync(path.join(paths.xenDir, 'web1.cfg'), 'utf8')).toContain(
      `# xenkit-base-image: ${base} 0600`,
    );
    expect(imageUuid(base)).toBe(sourceUuid);
  });

  it('unwinds a clone that fails at the end: no files, no marks, no mounts, loops or exports', async () => {
    const cfgBefore = fs.readFileSync(path.join(paths.xenDir, 'web2.cfg'), 'utf8');
    const { plan } = await buildClonePlan(paths, {
      source: 'web2',
      hostname: 'web5',
      linked: true,
      dir: undefined,
      network: undefined,
      mac: { kind: 'random' },
      running: { xl: false },
    });
    plan.steps.push({
      id: 'boom',
      title: 'fail',
      actions: [],
      run: () => Promise.reject(new Error('injected failure')),
    });
    await expect(executePlan(plan)).rejects.toThrow('injected failure');
    expect(fs.existsSync(path.join(domains, 'web5'))).toBe(false);
    expect(fs.existsSync(path.join(paths.xenDir, 'web5.cfg'))).toBe(false);
    expect(fs.readFileSync(path.join(paths.xenDir, 'web2.cfg'), 'utf8')).toBe(cfgBefore);
    const web2Disk = path.join(domains, 'web2/disk.img');
    expect(execFileSync('lsattr', [web2Disk], { encoding: 'utf8' }).split(' ')[0]).not.toContain('i');
    expect(fs.statSync(web2Disk).mode & 0o777).toBe(0o600);
    const state = await hostStorageState([scratch, 'xenkit-tree-', 'xenkit-export-']);
    expect(state).toEqual({ loops: [], mounts: [] });
  });

  it('lists the guests with disks, formats, sizes, parents, clones and state', async () => {
    const result = await xenkit(['list-images', `--root=${paths.root}`, '--json']);
    expect(result.code, result.err).toBe(0);
    const { guests } = JSON.parse(result.out) as {
      guests: {
        name: string;
        clones: string[];
        running: unknown;
        disks: { format: string; parent?: string; virtualSize: number; allocatedSize: number }[];
      }[];
    };
    expect(guests.map((g) => [g.name, g.running])).toEqual([
      ['web1', false],
      ['web2', false],
      ['web3', false],
    ]);
    const [web1, web2, web3] = guests;
    expect(web1?.clones).toEqual(['web3']);
    expect(web2?.disks.map((d) => d.format)).toEqual(['raw', 'raw']);
    expect(web3?.disks.map((d) => [d.format, d.parent])).toEqual([
      ['qcow2', path.join(domains, 'web1/disk.img')],
      ['qcow2', path.join(domains, 'web1/swap.img')],
    ]);
    expect(web3?.disks[0]?.virtualSize).toBe(2 * 1024 ** 3);
    expect(web2?.disks[0]?.allocatedSize).toBeLessThan(web2?.disks[0]?.virtualSize ?? 0);
    const text = await xenkit(['list-images', `--root=${paths.root}`]);
    expect(text.out).toContain('Name: web3\nMemory: 256 MB\nDHCP [MAC: 00:16:3E:');
  });

  describe('with a guest running under QEMU', () => {
    let qemu: ChildProcess;
    beforeAll(async () => {
      qemu = spawn('qemu-system-x86_64', ['-machine', 'none', '-display', 'none', '-S', '-nodefaults'], {
        stdio: 'ignore',
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
      const rt = runtimePathsFor(paths.stateDir, 'web2');
      fs.mkdirSync(rt.dir, { recursive: true });
      fs.writeFileSync(rt.record, JSON.stringify({ id: 7, name: 'web2', pid: qemu.pid, resetsSeen: 0 }));
    });
    afterAll(() => {
      qemu.kill('SIGKILL');
      fs.rmSync(runtimePathsFor(paths.stateDir, 'web2').dir, { recursive: true, force: true });
    });

    it.each([[['update-image', 'web2']], [['delete-image', 'web2']], [['clone', 'web2', 'web9']]])(
      'refuses %j',
      async (args) => {
        const result = await xenkit([...args, `--root=${paths.root}`]);
        expect(result.code).not.toBe(0);
        expect(result.out + result.err).toMatch(/running/);
        expect(fs.existsSync(path.join(paths.xenDir, 'web2.cfg'))).toBe(true);
      },
    );
  });

  it('runs apt-get update and dist-upgrade inside a stopped image and puts everything back', async () => {
    const disk = path.join(domains, 'web2/disk.img');
    const readResolv = (t: string): string => {
      const file = path.join(t, 'etc/resolv.conf');
      return fs.lstatSync(file).isSymbolicLink()
        ? `-> ${fs.readlinkSync(file)}`
        : fs.readFileSync(file, 'utf8');
    };
    const resolvBefore = withMountedImage(disk, readResolv);
    const started = Date.now();
    const result = await xenkit(['update-image', 'web2', `--root=${paths.root}`, '--json']);
    expect(result.code, result.err + result.out).toBe(0);
    const body = JSON.parse(result.out) as { guests: { isDebian: boolean; upgraded: number }[] };
    expect(body.guests[0]?.isDebian).toBe(true);
    expect(body.guests[0]?.upgraded).toBeGreaterThanOrEqual(0);
    withMountedImage(disk, (t) => {
      const lists = fs.readdirSync(path.join(t, 'var/lib/apt/lists'));
      const release = lists.find((n) => /deb\.debian\.org_debian_dists_bookworm_(In)?Release$/.test(n));
      expect(release).toBeDefined();
      expect(fs.statSync(path.join(t, 'var/lib/apt/lists', release ?? '')).mtimeMs).toBeGreaterThan(
        started - 60_000,
      );
      expect(fs.existsSync(path.join(t, 'usr/sbin/policy-rc.d'))).toBe(false);
      expect(readResolv(t)).toBe(resolvBefore);
      expect(
        fs.readdirSync(path.join(t, 'var/cache/apt/archives')).filter((n) => n.endsWith('.deb')),
      ).toEqual([]);
    });
    expect(fs.readFileSync(path.join(paths.logDir, 'web2.log'), 'utf8')).toMatch(
      /chroot .* \/usr\/bin\/apt-get update/,
    );
    expect(await hostStorageState([scratch, 'xenkit-tree-', 'xenkit-export-'])).toEqual({
      loops: [],
      mounts: [],
    });
  });

  it('deletes the linked clone (freeing the base) and the full clone, and nothing else', async () => {
    const web1Cfg = fs.readFileSync(path.join(paths.xenDir, 'web1.cfg'), 'utf8');
    const refused = capture();
    expect(await deleteMain([`--root=${paths.root}`, 'web1'], refused.io, { xl: false })).toBe(2);
    expect(refused.err()).toContain('back the linked clone web3');
    const c = capture();
    expect(await deleteMain([`--root=${paths.root}`, 'web3', 'web2'], c.io, { xl: false })).toBe(0);
    expect(c.out()).toContain(`Removing: ${path.join(domains, 'web3')}\n`);
    expect(c.out()).toContain(`Deleting: ${path.join(paths.xenDir, 'web2.cfg')}\n`);
    for (const name of ['web2', 'web3']) {
      expect(fs.existsSync(path.join(domains, name))).toBe(false);
      expect(fs.existsSync(path.join(paths.xenDir, `${name}.cfg`))).toBe(false);
      expect(fs.existsSync(path.join(paths.logDir, `${name}.log`))).toBe(true);
    }
    const base = path.join(domains, 'web1/disk.img');
    expect(execFileSync('lsattr', [base], { encoding: 'utf8' }).split(' ')[0]).not.toContain('i');
    expect(fs.statSync(base).mode & 0o777).toBe(0o600);
    const after = fs.readFileSync(path.join(paths.xenDir, 'web1.cfg'), 'utf8');
    expect(after.trimEnd()).toBe(web1Cfg.split('\n# xenkit: the images')[0]?.trimEnd());
    expect(imageUuid(base)).toBe(sourceUuid);
    expect(await hostStorageState([scratch, 'xenkit-tree-', 'xenkit-export-'])).toEqual({
      loops: [],
      mounts: [],
    });
  });
});
