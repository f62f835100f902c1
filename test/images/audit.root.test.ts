/**
 * `xenkit audit` and `xenkit reset-identity` on real images: one bookworm guest built by
 * xen-create-image and a clone of it are clean; a hand copy (`cp --sparse=always` and a copied cfg)
 * and a tar re-import (the tree tarred out and made into a new image with `mkfs.ext4 -d`) are
 * flagged; a failed reset leaves the guest as it was; reset-identity fixes both, after which the
 * audit is clean; the reset guest boots to a login under QEMU with its new identity, and a copy of
 * it after that boot shares its machine-id, which the audit finds. Needs root.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditReport } from '../../src/images/audit.js';
import type { ResetOutcome } from '../../src/images/reset-identity-plan.js';
import { runBin, type CliResult } from '../helpers/cli.js';
import { imageUuid } from '../helpers/image-files.js';
import { shareXenkitCache } from '../helpers/shared-xenkit-cache.js';
import { assertBuilt, createLabGuest, killQemu, qemuPids, xm } from '../e2e/lab-guest.js';
import { SerialConsole } from '../e2e/serial-console.js';

const isRoot = process.getuid?.() === 0;
const PREFIX = `xka${process.pid % 10000}`;
const [SRC, CLONE, COPY, TARRED, LATER] = ['s', 'c', 'cp', 'tar', 'later'].map((s) => `${PREFIX}${s}`) as [
  string,
  string,
  string,
  string,
  string,
];
const PASSWORD = `Audit-${randomBytes(6).toString('hex')}`;
/** TCG on a loaded 2-core machine: 1-2 minutes to the login prompt; allow for much worse. */
const BOOT_MS = 600_000;

type Audit = AuditReport & { ok: boolean };

describe.skipIf(!isRoot)('audit and reset-identity on real guests', () => {
  let scratch = '';
  let root = '';
  let domains = '';
  let serial: SerialConsole | undefined;
  const timings: Record<string, number> = {};

  const xenkit = async (args: string[], env: Record<string, string> = {}): Promise<CliResult> => {
    const started = Date.now();
    const result = await runBin('xenkit', [...args, '--root', root], { timeoutMs: 600_000, env });
    timings[args.slice(0, 2).join(' ')] = Date.now() - started;
    return result;
  };
  const audit = async (names: string[] = []): Promise<{ code: number | null; report: Audit }> => {
    const result = await xenkit(['audit', ...names, '--json']);
    return { code: result.code, report: JSON.parse(result.stdout) as Audit };
  };
  const image = (name: string, file = 'disk.img'): string => path.join(domains, name, file);
  const cfgPath = (name: string): string => path.join(root, 'etc/xen', `${name}.cfg`);
  /** A copy of SRC's cfg for NAME (name and image paths), the MAC left as it was: what an admin copies. */
  const copyCfg = (from: string, name: string): void => {
    const text = fs.readFileSync(cfgPath(from), 'utf8');
    fs.writeFileSync(cfgPath(name), text.split(from).join(name));
  };
  /** Both images copied with `cp --sparse=always` and the cfg copied under the new name. */
  const copyByHand = (from: string, name: string): void => {
    fs.mkdirSync(path.join(domains, name));
    for (const file of ['disk.img', 'swap.img'])
      execFileSync('cp', ['--sparse=always', image(from, file), image(name, file)]);
    copyCfg(from, name);
  };
  const kindsFor = (report: Audit, name: string): string[] =>
    [
      ...new Set(report.findings.filter((f) => f.where.some((w) => w.guest === name)).map((f) => f.kind)),
    ].sort();

  beforeAll(async () => {
    assertBuilt();
    scratch = fs.mkdtempSync('/var/tmp/xenkit-audit-');
    root = path.join(scratch, 'root');
    fs.mkdirSync(root);
    shareXenkitCache(root);
    fs.writeFileSync(path.join(root, 'pw'), `${PASSWORD}\n`, { mode: 0o600 });
    domains = path.join(root, 'srv/xen/domains');
    let started = Date.now();
    const created = await createLabGuest(root, SRC, ['--swap=128M', '--memory=512M']);
    timings['create-image'] = Date.now() - started;
    expect(created.code, created.stderr + created.stdout).toBe(0);
    started = Date.now();
    const cloned = await runBin('xenkit', ['clone', SRC, CLONE, '--root', root, '--quiet']);
    timings['clone'] = Date.now() - started;
    expect(cloned.code, cloned.stderr + cloned.stdout).toBe(0);
  }, 1_800_000);

  afterAll(async () => {
    serial?.close();
    if (root) await runBin('xm', ['destroy', COPY, '--root', root], { timeoutMs: 60_000 });
    await killQemu(COPY);
    console.log(`audit timings (ms): ${JSON.stringify(timings)}`);
    if (scratch && process.env.KEEP_WORK !== '1') fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('finds nothing in a freshly built guest and its clone', async () => {
    const { code, report } = await audit();
    expect(report.findings, JSON.stringify(report.findings, null, 1)).toEqual([]);
    expect(code).toBe(0);
    expect(report.guests.map((g) => g.name).sort()).toEqual([CLONE, SRC].sort());
    for (const guest of report.guests) {
      expect(guest.root?.method).toBe('debugfs');
      expect(guest.hostKeys.map((k) => k.type).sort()).toEqual(['ECDSA', 'ED25519', 'RSA']);
      expect(guest.hostKeys.find((k) => k.type === 'RSA')?.bits).toBeGreaterThanOrEqual(3072);
      expect(guest.machineId).toBe('');
      expect(guest.randomSeed?.size).toBe(512);
      expect(guest.disks.map((d) => d.fsType).sort()).toEqual(['ext4', 'swap']);
    }
  });

  it('flags a hand copy (cp --sparse=always) and a tar re-import, naming guest and file', async () => {
    copyByHand(SRC, COPY);
    // The tar re-import: the tree tarred out of a read-only mount, unpacked, made into a new image
    // (keeping the UUID fstab names, as one must for it to boot); a new swap.
    const tree = path.join(scratch, 'tree');
    const mnt = path.join(scratch, 'mnt');
    fs.mkdirSync(tree);
    fs.mkdirSync(mnt);
    execFileSync('mount', ['-o', 'ro,loop,noload', image(SRC), mnt]);
    try {
      execFileSync('sh', [
        '-c',
        'tar -C "$1" --numeric-owner --xattrs -cpf - . | tar -C "$2" --numeric-owner --xattrs -xpf -',
        'sh',
        mnt,
        tree,
      ]);
    } finally {
      execFileSync('umount', [mnt]);
    }
    fs.mkdirSync(path.join(domains, TARRED));
    execFileSync('mkfs.ext4', ['-q', '-U', imageUuid(image(SRC)), '-d', tree, image(TARRED), '2G']);
    execFileSync('truncate', ['-s', '128M', image(TARRED, 'swap.img')]);
    execFileSync('mkswap', ['-q', image(TARRED, 'swap.img')]);
    fs.rmSync(tree, { recursive: true, force: true });
    copyCfg(SRC, TARRED);

    const { code, report } = await audit();
    expect(code).toBe(1);
    const copied = ['shared-fs-uuid', 'shared-host-key', 'shared-mac', 'shared-random-seed'];
    expect(kindsFor(report, COPY)).toEqual(copied);
    expect(kindsFor(report, TARRED)).toEqual(copied);
    expect(kindsFor(report, CLONE)).toEqual([]);
    const key = report.findings.find(
      (f) => f.kind === 'shared-host-key' && f.where.some((w) => w.guest === COPY),
    );
    expect(key?.where.map((w) => w.guest).sort()).toEqual([COPY, SRC, TARRED].sort());
    expect(key?.where[0]?.file).toMatch(/^\/etc\/ssh\/ssh_host_\w+_key\.pub$/);
    const swap = report.findings.find(
      (f) => f.kind === 'shared-fs-uuid' && f.value === imageUuid(image(SRC, 'swap.img')),
    );
    expect(swap?.where.map((w) => w.file).sort()).toEqual(
      [image(COPY, 'swap.img'), image(SRC, 'swap.img')].sort(),
    );
    // The text output names guest and file as well.
    const text = await xenkit(['audit', COPY]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`${COPY}  /etc/ssh/ssh_host_ed25519_key.pub`);
    expect(text.stdout).toContain(`${COPY}  ${cfgPath(COPY)}`);
    // Asked about the clone alone: it is compared with all, and shares nothing.
    expect((await audit([CLONE])).code).toBe(0);
  });

  it('leaves the guest as it was when reset-identity fails at its last step', async () => {
    const before = {
      stat: fs.statSync(image(TARRED)),
      cfg: fs.readFileSync(cfgPath(TARRED), 'utf8'),
      uuid: imageUuid(image(TARRED)),
    };
    const failed = await xenkit(['reset-identity', TARRED, '--quiet'], { XENKIT_FAILPOINT: 'reset.swap' });
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toContain('failpoint');
    const after = fs.statSync(image(TARRED));
    expect([after.ino, after.mtimeMs, after.size]).toEqual([
      before.stat.ino,
      before.stat.mtimeMs,
      before.stat.size,
    ]);
    expect(fs.readFileSync(cfgPath(TARRED), 'utf8')).toBe(before.cfg);
    expect(imageUuid(image(TARRED))).toBe(before.uuid);
    expect(fs.readdirSync(path.join(domains, TARRED)).sort()).toEqual(['disk.img', 'swap.img']);
  });

  it('gives both copies a new identity with reset-identity, after which the audit is clean', async () => {
    const dry = await xenkit(['reset-identity', COPY, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('reset.swap');
    const outcomes: Record<string, ResetOutcome> = {};
    for (const name of [COPY, TARRED]) {
      const oldMac = /mac=([0-9A-Fa-f:]{17})/.exec(fs.readFileSync(cfgPath(name), 'utf8'))?.[1];
      const result = await xenkit(['reset-identity', name, '--json']);
      expect(result.code, result.stderr).toBe(0);
      const outcome = JSON.parse(result.stdout) as ResetOutcome;
      outcomes[name] = outcome;
      expect(outcome.mac.before?.toUpperCase()).toBe(oldMac?.toUpperCase());
      expect(outcome.mac.after).not.toBe(outcome.mac.before);
      expect(fs.readFileSync(cfgPath(name), 'utf8')).toContain(`mac=${outcome.mac.after}`);
      expect(outcome.sshHostKeys.after).toHaveLength(3);
      expect(outcome.disks.find((d) => d.isRoot)?.newUuid).toBe(imageUuid(image(name)));
      expect(outcome.uuidFiles).toContain('/etc/fstab');
      expect(fs.readdirSync(path.join(domains, name)).sort()).toEqual(['disk.img', 'swap.img']);
      execFileSync('e2fsck', ['-f', '-n', image(name)], { stdio: 'pipe' });
    }
    const text = await xenkit(['reset-identity', CLONE]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/MAC +\S+ -> \S+/);
    const { code, report } = await audit();
    expect(report.findings, JSON.stringify(report.findings, null, 1)).toEqual([]);
    expect(code).toBe(0);
    // The new host keys in the images are the ones the summary printed.
    const copy = report.guests.find((g) => g.name === COPY);
    expect(copy?.hostKeys.map((k) => k.fingerprint).sort()).toEqual(
      outcomes[COPY]?.sshHostKeys.after.map((k) => k.fingerprint).sort(),
    );
  });

  it('boots the reset guest to a login under QEMU, with its new MAC; a running guest is refused', async () => {
    const started = Date.now();
    await xm(root, ['create', COPY]);
    const refused = await xenkit(['reset-identity', COPY]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/is running.*\n\s+hint: /);
    serial = await SerialConsole.connect(path.join(root, 'run/xenkit/qemu', COPY, 'console.sock'), COPY);
    await serial.login('root', PASSWORD, BOOT_MS);
    timings['boot to login'] = Date.now() - started;
    const mac = /mac=([0-9A-Fa-f:]{17})/.exec(fs.readFileSync(cfgPath(COPY), 'utf8'))?.[1]?.toLowerCase();
    const seen = await serial.run('cat /sys/class/net/*/address; cat /etc/machine-id; hostname');
    expect(seen.output).toContain(mac);
    expect(seen.output).toMatch(/^[0-9a-f]{32}$/m);
    serial.close();
    serial = undefined;
    const down = await runBin('xm', ['shutdown', '-w', COPY, '--root', root], { timeoutMs: 400_000 });
    expect(down.code, down.stderr).toBe(0);
    expect(await qemuPids(COPY)).toEqual([]);
  });

  it('finds the machine-id a copy made after that boot shares, and reads the boot from the journal', async () => {
    copyByHand(COPY, LATER);
    const { code, report } = await audit([LATER]);
    expect(code).toBe(1);
    const copied = [
      'shared-fs-uuid',
      'shared-host-key',
      'shared-mac',
      'shared-machine-id',
      'shared-random-seed',
    ];
    expect(kindsFor(report, LATER)).toEqual(copied);
    const later = report.guests.find((g) => g.name === LATER);
    expect(later?.machineId).toMatch(/^[0-9a-f]{32}$/);
    // The keys were made on the host before the boot: no key-before-crng, but the boot is there.
    expect(later?.boots?.length).toBeGreaterThanOrEqual(1);
    expect(later?.boots?.[0]?.crngReady).toBeGreaterThan(0);
    expect(later?.hostKeys.every((k) => (k.bornAt ?? Infinity) < (later.boots?.[0]?.first ?? 0))).toBe(true);
  });
});
