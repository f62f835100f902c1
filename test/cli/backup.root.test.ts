/**
 * xenkit backup against a real guest (built once from the cached bookworm tree): a first backup,
 * an unchanged second one that reads nothing, one after a few MiB changed inside the filesystem,
 * verify, a flipped byte verify names, restore --as a copy with its own identity (fsck clean,
 * files equal), killed creates, restores and prunes that leave the repository consistent, bad
 * input, prune, an export of a damaged snapshot that leaves nothing, and a linked clone (qcow2
 * overlays) backed up as its guest sees it and restored as a standalone qcow2. Needs root.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookwormTarball } from '../customize/bookworm-tree.js';
import { runBin, type CliResult } from '../helpers/cli.js';
import { imageUuid, withMountedImage } from '../helpers/image-files.js';

const isRoot = process.getuid?.() === 0;

/** Mounts the image read-write, runs `fn` in it, unmounts (a change made inside the guest's filesystem). */
function changeInside(image: string, fn: (tree: string) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-bk-mnt-'));
  execFileSync('mount', ['-o', 'loop', image, dir]);
  try {
    fn(dir);
  } finally {
    execFileSync('umount', [dir]);
    fs.rmdirSync(dir);
  }
}
const MiB = 1024 * 1024;

interface DiskJson {
  target: string;
  readBytes: number;
  newBytes: number;
  newChunks: number;
  isCacheHit: boolean;
}
interface CreateJson {
  ok: boolean;
  snapshot: string;
  snapshots: { snapshot: string; newBytes: number; readBytes: number; disks: DiskJson[] }[];
}

describe.skipIf(!isRoot)('xenkit backup on a real guest', () => {
  let scratch: string;
  let root: string;
  let repo: string;
  let disk: string;
  const ids: string[] = [];
  const payload = randomBytes(6 * MiB);

  const xenkit = (args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
    runBin('xenkit', [...args, `--root=${root}`], { env, timeoutMs: 300_000 });
  const create = async (): Promise<CreateJson> => {
    const r = await xenkit(['backup', 'create', 'web1', '--json']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const body = JSON.parse(r.stdout) as CreateJson;
    ids.push(body.snapshot);
    return body;
  };
  const chunkFiles = (): string[] =>
    fs
      .readdirSync(path.join(repo, 'chunks'))
      .flatMap((d) =>
        fs.readdirSync(path.join(repo, 'chunks', d)).map((n) => path.join(repo, 'chunks', d, n)),
      );

  beforeAll(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-backup-root-'));
    root = path.join(scratch, 'root');
    fs.mkdirSync(root);
    fs.copyFileSync(await bookwormTarball(), path.join(root, 'tree.tar'));
    fs.writeFileSync(path.join(root, 'pw'), 'Correct-Horse-7\n');
    const made = await runBin('xen-create-image', [
      '--hostname=web1',
      `--root=${root}`,
      '--dir=/srv',
      '--size=1G',
      '--swap=64M',
      '--dhcp',
      '--install-method=tar',
      '--install-source=/tree.tar',
      '--password-file=/pw',
      '--quiet',
    ]);
    expect(made.code, made.stderr).toBe(0);
    fs.rmSync(path.join(root, 'tree.tar'));
    repo = path.join(root, 'var/lib/xenkit/backups');
    disk = path.join(root, 'srv/domains/web1/disk.img');
  }, 900_000);

  afterAll(() => {
    // The linked clone made web1's images immutable (its base).
    if (scratch) execFileSync('chattr', ['-R', '-i', scratch], { stdio: 'ignore' });
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('refuses bad input with exit 2 and writes nothing', async () => {
    const cases = [
      ['backup', 'create', 'nosuch'],
      ['backup', 'create', '../etc'],
      ['backup', 'list'],
      ['backup', 'restore', 'web1'],
      ['backup', 'prune', '--keep-last', '0'],
    ];
    for (const args of cases) {
      const r = await xenkit(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split('\n')[0]).toMatch(/^xenkit: error: /);
    }
    expect(fs.existsSync(repo)).toBe(false);
    const dry = await xenkit(['backup', 'create', 'web1', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('Back up web1');
    expect(fs.existsSync(repo)).toBe(false);
  });

  it('refuses a guest whose image a process holds open for writing', async () => {
    const holder = spawn('sh', ['-c', `exec 3<>"$1"; exec sleep 60`, 'sh', disk], { stdio: 'ignore' });
    const ended = new Promise((r) => holder.on('exit', r));
    try {
      await new Promise((r) => setTimeout(r, 300));
      const r = await xenkit(['backup', 'create', 'web1']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/is running .*will not back up a running guest/);
      // The repository this run made is gone again.
      expect(fs.existsSync(repo)).toBe(false);
    } finally {
      holder.kill('SIGKILL');
      await ended;
    }
  });

  it('backs up the guest, then reads nothing and stores nothing for the unchanged guest', async () => {
    const first = await create();
    const s1 = first.snapshots[0]!;
    expect(s1.newBytes).toBeGreaterThan(10 * MiB);
    // The 1G image is mostly holes: far less than its size was read.
    expect(s1.readBytes).toBeLessThan(700 * MiB);
    expect(fs.statSync(repo).mode & 0o777).toBe(0o700);
    for (const f of chunkFiles().slice(0, 20)) expect(fs.statSync(f).mode & 0o777).toBe(0o600);
    const second = await create();
    const s2 = second.snapshots[0]!;
    expect(s2.disks.map((d) => d.isCacheHit)).toEqual([true, true]);
    expect(s2.readBytes).toBe(0);
    expect(s2.newBytes).toBe(0);
    const list = await xenkit(['backup', 'list', 'web1', '--json']);
    expect((JSON.parse(list.stdout) as { snapshots: { id: string }[] }).snapshots.map((s) => s.id)).toEqual(
      ids,
    );
  });

  it('stores about what changed after a few MiB were written inside the guest; rsync -a copies little more', async () => {
    // A copy of the repository on "another machine", brought up to date with rsync -a: only files
    // the copy lacks move (chunks are never rewritten in place).
    const mirror = path.join(root, 'mirror');
    const rsync = (): number => {
      const out = execFileSync('rsync', ['-a', '--stats', `${repo}/`, `${mirror}/`], { encoding: 'utf8' });
      const m = /Total transferred file size: ([\d,]+) bytes/.exec(out);
      if (!m) throw new Error(`no transfer size in rsync's stats:\n${out}`);
      return Number(m[1]!.replace(/,/g, ''));
    };
    const firstCopy = rsync();
    changeInside(disk, (t) => fs.writeFileSync(path.join(t, 'root/payload.bin'), payload));
    const third = await create();
    const s3 = third.snapshots[0]!;
    const image = s3.disks.find((d) => d.target.endsWith('disk.img'))!;
    expect(image.isCacheHit).toBe(false);
    expect(image.newBytes).toBeGreaterThan(payload.length);
    expect(image.newBytes).toBeLessThan(payload.length + 8 * MiB);
    const verify = await xenkit(['backup', 'verify']);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/^OK: 3 snapshot/);
    const update = rsync();
    console.log(
      `rsync -a of the repository: first copy ${(firstCopy / MiB).toFixed(1)} MiB, after ${payload.length / MiB} MiB changed ${(update / MiB).toFixed(1)} MiB`,
    );
    expect(update).toBeGreaterThan(payload.length);
    expect(update).toBeLessThan(image.newBytes + 2 * MiB);
    expect(update).toBeLessThan(firstCopy / 5);
    const check = await xenkit(['backup', 'verify', '--repo', '/mirror']);
    expect(check.code, check.stderr).toBe(0);
  });

  it('names the snapshot and disk of a flipped byte in a chunk; restore from it fails and leaves nothing', async () => {
    const manifest = fs.readFileSync(path.join(repo, 'snapshots', `${ids[2]!}.json`), 'utf8').split('\n')[0]!;
    const disks = (JSON.parse(manifest) as { disks: { target: string; chunks: (string | null)[] }[] }).disks;
    const image = disks.find((d) => d.target.endsWith('disk.img'))!;
    // The first data chunk: restore and export fail at once instead of after the whole image.
    const victim = image.chunks.find(Boolean)!;
    const file = path.join(repo, 'chunks', victim.slice(0, 2), victim);
    const good = fs.readFileSync(file);
    const bad = Buffer.from(good);
    bad[Math.floor(bad.length / 2)] = bad[Math.floor(bad.length / 2)]! ^ 0x04;
    fs.writeFileSync(file, bad);
    try {
      const verify = await xenkit(['backup', 'verify', ids[2]!]);
      expect(verify.code).toBe(1);
      expect(verify.stderr).toContain(`snapshot ${ids[2]!}, disk ${image.target}`);
      expect(verify.stderr).toContain(victim);
      const restore = await xenkit(['backup', 'restore', ids[2]!, '--as', 'web9']);
      expect(restore.code).toBe(1);
      expect(restore.stderr).toMatch(/E_RESTORE_DAMAGED|damaged/);
      expect(fs.existsSync(path.join(root, 'srv/domains/web9'))).toBe(false);
      expect(fs.existsSync(path.join(root, 'etc/xen/web9.cfg'))).toBe(false);
      const exported = await xenkit(['backup', 'export', ids[2]!, '--format', 'raw', '--to', '/export/bad']);
      expect(exported.code).toBe(1);
      expect(fs.existsSync(path.join(root, 'export'))).toBe(false);
    } finally {
      fs.writeFileSync(file, good);
    }
  });

  it('restores --as a copy with its own identity: fsck clean, the files equal, sparse', async () => {
    const r = await xenkit(['backup', 'restore', 'web1', '--as', 'web2', '--json']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const out = JSON.parse(r.stdout) as { snapshot: string; mac: string; sshHostKeys: unknown[] };
    expect(out.snapshot).toBe(ids[2]);
    const copy = path.join(root, 'srv/domains/web2/disk.img');
    const cfg = fs.readFileSync(path.join(root, 'etc/xen/web2.cfg'), 'utf8');
    expect(cfg).toContain('/srv/domains/web2/disk.img');
    expect(cfg).not.toContain('/domains/web1/');
    expect(cfg).toMatch(/name\s*=\s*'web2'/);
    expect(cfg).toContain(out.mac);
    expect(fs.statSync(copy).mode & 0o777).toBe(0o600);
    expect(fs.statSync(copy).blocks * 512).toBeLessThan(fs.statSync(copy).size / 2);
    execFileSync('e2fsck', ['-fn', copy], { stdio: 'pipe' });
    expect(imageUuid(copy)).not.toBe(imageUuid(disk));
    const original = withMountedImage(disk, (t) => ({
      keys: fs.readFileSync(path.join(t, 'etc/ssh/ssh_host_ed25519_key.pub'), 'utf8'),
      passwd: fs.readFileSync(path.join(t, 'etc/passwd'), 'utf8'),
    }));
    withMountedImage(copy, (t) => {
      expect(fs.readFileSync(path.join(t, 'root/payload.bin')).equals(payload)).toBe(true);
      expect(fs.readFileSync(path.join(t, 'etc/passwd'), 'utf8')).toBe(original.passwd);
      expect(fs.readFileSync(path.join(t, 'etc/hostname'), 'utf8').trim()).toBe('web2');
      expect(fs.readFileSync(path.join(t, 'etc/ssh/ssh_host_ed25519_key.pub'), 'utf8')).not.toBe(
        original.keys,
      );
      expect(fs.readFileSync(path.join(t, 'etc/machine-id'), 'utf8').trim()).toBe('');
    });
    // An existing guest is never replaced without --force.
    const again = await xenkit(['backup', 'restore', 'web1', '--as', 'web2']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/exists? already/);
  });

  it('leaves nothing of a restore killed after its images, and the next restore works', async () => {
    const dir = path.join(root, 'srv/domains/web5');
    const killed = await xenkit(['backup', 'restore', 'web1', '--as', 'web5'], {
      XENKIT_FAILPOINT: 'restore.images:kill',
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(fs.existsSync(path.join(root, 'etc/xen/web5.cfg'))).toBe(false);
    expect(fs.readdirSync(dir).some((n) => n.includes('.xenkit-restore-'))).toBe(true);
    const again = await xenkit(['backup', 'restore', 'web1', '--as', 'web5']);
    expect(again.code, again.stderr).toBe(0);
    expect(fs.readdirSync(dir).sort()).toEqual(['disk.img', 'swap.img']);
    execFileSync('e2fsck', ['-fn', path.join(dir, 'disk.img')], { stdio: 'pipe' });
    expect((await xenkit(['backup', 'verify'])).code).toBe(0);
  });

  it('leaves the repository consistent when a create is killed, and the next create works', async () => {
    changeInside(disk, (t) => fs.writeFileSync(path.join(t, 'root/more.bin'), randomBytes(2 * MiB)));
    const sub = path.join(repo, 'chunks', fs.readdirSync(path.join(repo, 'chunks'))[0]!);
    fs.writeFileSync(path.join(sub, '.tmp-left-by-a-killed-run'), 'half a chunk');
    for (const step of ['backup.lock', 'backup.guest.web1']) {
      const killed = await xenkit(['backup', 'create', 'web1'], { XENKIT_FAILPOINT: `${step}:kill` });
      expect(killed.signal).toBe('SIGKILL');
      const verify = await xenkit(['backup', 'verify']);
      expect(verify.code, verify.stderr).toBe(0);
    }
    await create();
    expect(fs.readdirSync(sub).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    const verify = await xenkit(['backup', 'verify']);
    expect(verify.code, verify.stderr).toBe(0);
  });

  it('prunes to the last snapshot, frees the chunks nothing needs, and restores over the guest with --force', async () => {
    const before = chunkFiles().length;
    const dry = await xenkit(['backup', 'prune', '--keep-last', '1', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(chunkFiles().length).toBe(before);
    // Killed after the manifests went, then after its first chunk: verify passes each time.
    for (const point of ['prune.manifests', 'prune.chunk']) {
      const killed = await xenkit(['backup', 'prune', '--keep-last', '1'], {
        XENKIT_FAILPOINT: `${point}:kill`,
      });
      expect(killed.signal, point).toBe('SIGKILL');
      const verify = await xenkit(['backup', 'verify']);
      expect(verify.code, verify.stderr).toBe(0);
    }
    expect(chunkFiles().length).toBe(before - 1);
    const r = await xenkit(['backup', 'prune', '--keep-last', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const pruned = JSON.parse(r.stdout) as { keep: string[]; forget: string[]; freedChunks: number };
    expect(pruned.keep).toEqual([ids.at(-1)]);
    expect(pruned.forget).toEqual([]);
    expect(pruned.freedChunks).toBeGreaterThan(0);
    expect(chunkFiles().length).toBe(before - 1 - pruned.freedChunks);
    expect((await xenkit(['backup', 'verify'])).code).toBe(0);
    changeInside(disk, (t) => fs.rmSync(path.join(t, 'root/payload.bin')));
    const restored = await xenkit(['backup', 'restore', 'web1', '--force']);
    expect(restored.code, restored.stderr).toBe(0);
    // Every chunk and the chunk table were checked against the manifest on the way; the file is back.
    execFileSync('e2fsck', ['-fn', disk], { stdio: 'pipe' });
    withMountedImage(disk, (t) =>
      expect(fs.readFileSync(path.join(t, 'root/payload.bin')).equals(payload)).toBe(true),
    );
    expect(fs.readdirSync(path.dirname(disk)).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('keeps an encrypted repository with --encryption-key: no plaintext, refused without the key, restored with it', async () => {
    fs.writeFileSync(path.join(root, 'backup.key'), randomBytes(32), { mode: 0o600 });
    fs.writeFileSync(path.join(root, 'short.key'), randomBytes(16));
    fs.writeFileSync(path.join(root, 'other.key'), randomBytes(32));
    const enc = (args: string[], key = '/backup.key'): Promise<CliResult> =>
      xenkit([...args, '--repo', '/enc', ...(key ? ['--encryption-key', key] : [])]);
    const short = await enc(['backup', 'create', 'web1'], '/short.key');
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/short\.key holds 16 bytes/);
    expect(fs.existsSync(path.join(root, 'enc'))).toBe(false);
    const made = await enc(['backup', 'create', 'web1', '--json']);
    expect(made.code, made.stderr).toBe(0);
    const id = (JSON.parse(made.stdout) as CreateJson).snapshot;
    const encDir = path.join(root, 'enc');
    // The guest's /etc/passwd is in there, sealed: not one chunk or manifest shows it.
    const passwd = withMountedImage(disk, (t) => fs.readFileSync(path.join(t, 'etc/passwd')));
    const hostname = Buffer.from("name        = 'web1'");
    for (const sub of ['chunks', 'snapshots']) {
      const files = execFileSync('find', [path.join(encDir, sub), '-type', 'f'], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean);
      for (const f of files) {
        const bytes = fs.readFileSync(f);
        expect(bytes.includes(passwd.subarray(0, 64)), f).toBe(false);
        expect(bytes.includes(hostname), f).toBe(false);
      }
    }
    for (const [key, want] of [
      ['', /is an encrypted repository/],
      ['/other.key', /is not the key of/],
    ] as const) {
      const r = await enc(['backup', 'list'], key);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(want);
    }
    const plainWithKey = await xenkit(['backup', 'list', '--encryption-key', '/backup.key']);
    expect(plainWithKey.code).toBe(2);
    const list = await enc(['backup', 'list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { snapshots: { id: string }[] }).snapshots.map((s) => s.id)).toEqual([
      id,
    ]);
    expect((await enc(['backup', 'verify'])).code).toBe(0);
    const restored = await enc(['backup', 'restore', id, '--as', 'sealed1']);
    expect(restored.code, restored.stderr).toBe(0);
    const copy = path.join(root, 'srv/domains/sealed1/disk.img');
    execFileSync('e2fsck', ['-fn', copy], { stdio: 'pipe' });
    withMountedImage(copy, (t) => {
      expect(fs.readFileSync(path.join(t, 'etc/passwd')).equals(passwd)).toBe(true);
      expect(fs.readFileSync(path.join(t, 'etc/hostname'), 'utf8').trim()).toBe('sealed1');
    });
  });

  it("backs up a linked clone (qcow2 on the guest's images) as the guest sees it, sharing its chunks; restores it as a standalone qcow2 guest", async () => {
    const cloned = await xenkit(['clone', 'web1', 'lc1', '--linked', '--quiet']);
    expect(cloned.code, cloned.stderr).toBe(0);
    const overlay = path.join(root, 'srv/domains/lc1/disk.img');
    const info = (file: string): { format: string; 'virtual-size': number; 'backing-filename'?: string } =>
      JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', file], { encoding: 'utf8' })) as {
        format: string;
        'virtual-size': number;
        'backing-filename'?: string;
      };
    expect(info(overlay)).toMatchObject({ format: 'qcow2', 'backing-filename': disk });
    const r = await xenkit(['backup', 'create', 'lc1', '--json']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const body = JSON.parse(r.stdout) as CreateJson;
    const s1 = body.snapshots[0]!;
    const image = s1.disks.find((d) => d.target.endsWith('lc1/disk.img'))!;
    // What the guest sees is read (the base's data through the overlay), not the qcow2 file's few
    // MiB, and most of it is web1's chunks already: only what the clone's identity changed is new.
    expect(image.readBytes).toBeGreaterThan(fs.statSync(overlay).size);
    expect(image.readBytes).toBeLessThan(700 * MiB);
    expect(s1.newBytes).toBeLessThan(image.readBytes / 10);
    const manifest = JSON.parse(
      fs.readFileSync(path.join(repo, 'snapshots', `${body.snapshot}.json`), 'utf8').split('\n')[0]!,
    ) as { disks: { target: string; format: string; size: number }[] };
    expect(manifest.disks.map((d) => [path.basename(d.target), d.format, d.size])).toEqual([
      ['disk.img', 'qcow2', 1024 * MiB],
      ['swap.img', 'qcow2', 64 * MiB],
    ]);
    // Unchanged: the files cache holds (the overlay and its base unchanged); a base whose stat
    // changed (here: made mutable, touched, made immutable again) is read again.
    const again = JSON.parse((await xenkit(['backup', 'create', 'lc1', '--json'])).stdout) as CreateJson;
    expect(again.snapshots[0]!.disks.map((d) => d.isCacheHit)).toEqual([true, true]);
    execFileSync('chattr', ['-i', disk]);
    const now = new Date();
    fs.utimesSync(disk, now, now);
    execFileSync('chattr', ['+i', disk]);
    const touched = JSON.parse((await xenkit(['backup', 'create', 'lc1', '--json'])).stdout) as CreateJson;
    expect(touched.snapshots[0]!.disks.map((d) => d.isCacheHit)).toEqual([false, true]);
    expect(touched.snapshots[0]!.newBytes).toBe(0);

    // Restored over itself: a standalone qcow2 (no backing file), sparse, the snapshot's content.
    const exported = await xenkit(['backup', 'export', body.snapshot, '--format', 'raw', '--to', '/lcexp']);
    expect(exported.code, exported.stderr).toBe(0);
    const restored = await xenkit(['backup', 'restore', body.snapshot, '--force']);
    expect(restored.code, restored.stderr).toBe(0);
    expect(info(overlay).format).toBe('qcow2');
    expect(info(overlay)['backing-filename']).toBeUndefined();
    expect(fs.statSync(overlay).mode & 0o777).toBe(0o600);
    expect(fs.statSync(overlay).size).toBeLessThan(700 * MiB);
    execFileSync(
      'qemu-img',
      ['compare', '-f', 'raw', '-F', 'qcow2', path.join(root, 'lcexp/disk.img'), overlay],
      {
        stdio: 'pipe',
      },
    );
    expect(fs.readFileSync(path.join(root, 'etc/xen/lc1.cfg'), 'utf8')).toMatch(/qcow2/);

    // The snapshot is a working guest's disk: its filesystem clean, the clone's identity in it.
    const exportedDisk = path.join(root, 'lcexp/disk.img');
    execFileSync('e2fsck', ['-fn', exportedDisk], { stdio: 'pipe' });
    withMountedImage(exportedDisk, (t) =>
      expect(fs.readFileSync(path.join(t, 'etc/hostname'), 'utf8').trim()).toBe('lc1'),
    );
    expect((await xenkit(['backup', 'verify'])).code).toBe(0);
  });
});
