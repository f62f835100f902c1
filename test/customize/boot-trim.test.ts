import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  applyBootTrim,
  describeBootTrim,
  ETC_UPDATED,
  MODPROBE_CONF,
  NETWORK_GENERATOR_DROPIN,
  renderModprobeConf,
} from '../../src/customize/boot-trim.js';
import { BUILTIN_STEPS, describeCustomize } from '../../src/customize/customize-guest.js';
import { findDistribution } from '../../src/config/distributions.js';
import { TreeEditor } from '../../src/customize/tree-editor.js';
import { HOST_FILES, type GuestIds } from '../../src/customize/types.js';
import { makeContext, makeSpec, tempDir, writeFiles } from '../helpers/customize-fixtures.js';

const IDS: GuestIds = { rootUuid: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', rootFs: 'ext4' };
const REAP_LINK = 'etc/systemd/system/multi-user.target.wants/e2scrub_reap.service';
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A guest tree with the units as bookworm's packages install them. */
function debianTree(): string {
  const root = tempDir('xenkit-trim-');
  dirs.push(root);
  writeFiles(root, {
    'lib/systemd/system/e2scrub_reap.service': '[Install]\nWantedBy=multi-user.target\n',
    'lib/systemd/system/modprobe@.service': '[Unit]\nDescription=Load Kernel Module %i\n',
    'lib/systemd/system/systemd-sysusers.service': '[Unit]\nConditionNeedsUpdate=|/etc\n',
    'lib/systemd/system/systemd-network-generator.service':
      '[Unit]\nBefore=network-pre.target systemd-udevd.service\n[Service]\nExecStart=/lib/systemd/systemd-network-generator\n',
  });
  fs.mkdirSync(path.join(root, path.dirname(REAP_LINK)), { recursive: true });
  fs.symlinkSync('/lib/systemd/system/e2scrub_reap.service', path.join(root, REAP_LINK));
  return root;
}

function context(root: string) {
  const dist = findDistribution('bookworm');
  if (!dist) throw new Error('bookworm is not in the distribution table');
  const editor = new TreeEditor(root);
  const c = {
    root,
    spec: makeSpec(),
    ids: IDS,
    dist,
    editor,
    step: makeContext().ctx,
    host: HOST_FILES,
    useSystemctl: false,
    result: { sshHostKeys: [], warnings: [] },
  };
  return { editor, c };
}

describe('the boot-trim customize step', () => {
  it('disables e2scrub_reap, masks four module loads and blacklists cfg80211, the PC speaker and the PS/2 mouse', async () => {
    const root = debianTree();
    const { c } = context(root);
    await applyBootTrim(c);
    expect(fs.existsSync(path.join(root, REAP_LINK))).toBe(false);
    expect(fs.existsSync(path.join(root, 'lib/systemd/system/e2scrub_reap.service'))).toBe(true);
    for (const unit of [
      'modprobe@drm.service',
      'modprobe@efi_pstore.service',
      'modprobe@loop.service',
      'modprobe@dm_mod.service',
    ])
      expect(fs.readlinkSync(path.join(root, 'etc/systemd/system', unit))).toBe('/dev/null');
    const conf = fs.readFileSync(path.join(root, MODPROBE_CONF), 'utf8');
    const blacklisted = conf.split('\n').filter((line) => line.startsWith('blacklist '));
    expect(blacklisted).toEqual([
      'blacklist cfg80211',
      'blacklist pcspkr',
      'blacklist psmouse',
      'blacklist serio_raw',
    ]);
    // Every other line is a comment (the reason for the blacklist line after it).
    expect(conf.split('\n').every((line) => line === '' || /^(#|blacklist )/.test(line))).toBe(true);
  });

  it('marks /etc up to date with /usr, so systemd-sysusers does not run at every boot', async () => {
    const root = debianTree();
    const { c } = context(root);
    const before = Date.now();
    await applyBootTrim(c);
    const text = fs.readFileSync(path.join(root, ETC_UPDATED), 'utf8');
    const stamp = Number(BigInt(/^TIMESTAMP_NSEC=(\d+)$/m.exec(text)?.[1] ?? '0') / 1_000_000n);
    expect(stamp).toBeGreaterThanOrEqual(before);
    expect(stamp).toBeLessThanOrEqual(Date.now());
    // What systemd compares with /usr's mtime is the file's own mtime: written now, after /usr.
    expect(fs.statSync(path.join(root, ETC_UPDATED)).mtimeMs).toBeGreaterThanOrEqual(before - 1000);
  });

  it.each([
    ['one of its own already', { 'etc/.updated': 'TIMESTAMP_NSEC=1\n' }, 'TIMESTAMP_NSEC=1\n'],
    ['systemd-update-done to write it', { 'lib/systemd/system/systemd-update-done.service': '' }, undefined],
  ])('leaves /etc/.updated alone in a guest with %s', async (_what, files, expected) => {
    const root = debianTree();
    writeFiles(root, files);
    const { c } = context(root);
    await applyBootTrim(c);
    const updated = path.join(root, ETC_UPDATED);
    expect(fs.existsSync(updated) ? fs.readFileSync(updated, 'utf8') : undefined).toBe(expected);
  });

  it("runs systemd 252's network generator only for a network option on the kernel command line", async () => {
    const root = debianTree();
    const { c } = context(root);
    await applyBootTrim(c);
    const dropin = fs.readFileSync(path.join(root, NETWORK_GENERATOR_DROPIN), 'utf8');
    const conditions = dropin.split('\n').filter((line) => line.startsWith('ConditionKernelCommandLine='));
    // Triggering (|) conditions: any one of them runs it; `ip=` from a cfg among them.
    expect(conditions).toContain('ConditionKernelCommandLine=|ip');
    expect(conditions).toContain('ConditionKernelCommandLine=|nameserver');
    expect(conditions.every((line) => line.startsWith('ConditionKernelCommandLine=|'))).toBe(true);
    expect(dropin).toMatch(/^\[Unit\]$/m);
  });

  it('leaves a generator that imports credentials (systemd 254 and later) and a drop-in its owner wrote', async () => {
    const root = debianTree();
    writeFiles(root, {
      'lib/systemd/system/systemd-network-generator.service':
        '[Service]\nExecStart=/usr/lib/systemd/systemd-network-generator\nImportCredential=network.conf.*\n',
    });
    await applyBootTrim(context(root).c);
    expect(fs.existsSync(path.join(root, NETWORK_GENERATOR_DROPIN))).toBe(false);
    const own = debianTree();
    writeFiles(own, { [NETWORK_GENERATOR_DROPIN.slice(1)]: '[Unit]\n# mine\n' });
    await applyBootTrim(context(own).c);
    expect(fs.readFileSync(path.join(own, NETWORK_GENERATOR_DROPIN), 'utf8')).toBe('[Unit]\n# mine\n');
  });

  it('puts everything back on rollback', async () => {
    const root = debianTree();
    const { editor, c } = context(root);
    await applyBootTrim(c);
    editor.rollback();
    expect(fs.readlinkSync(path.join(root, REAP_LINK))).toBe('/lib/systemd/system/e2scrub_reap.service');
    expect(fs.existsSync(path.join(root, 'etc/systemd/system/modprobe@drm.service'))).toBe(false);
    expect(fs.existsSync(path.join(root, MODPROBE_CONF))).toBe(false);
    expect(fs.existsSync(path.join(root, ETC_UPDATED))).toBe(false);
    expect(fs.existsSync(path.join(root, NETWORK_GENERATOR_DROPIN))).toBe(false);
  });

  it('masks nothing the guest does not ship and leaves a unit file its owner wrote', async () => {
    const root = tempDir('xenkit-trim-');
    dirs.push(root);
    writeFiles(root, { 'etc/systemd/system/modprobe@drm.service': '[Service]\nExecStart=/bin/true\n' });
    const { c } = context(root);
    await applyBootTrim(c);
    expect(fs.lstatSync(path.join(root, 'etc/systemd/system/modprobe@drm.service')).isFile()).toBe(true);
    expect(fs.existsSync(path.join(root, 'etc/systemd/system/modprobe@efi_pstore.service'))).toBe(false);
  });

  it('is a built-in step whose plan lists what it changes', () => {
    expect(BUILTIN_STEPS.map((s) => s.id)).toContain('boot-trim');
    const actions = describeCustomize(makeSpec(), IDS);
    for (const action of describeBootTrim()) expect(actions).toContainEqual(action);
    expect(describeBootTrim()).toContainEqual({
      kind: 'write',
      path: MODPROBE_CONF,
      mode: 0o644,
      content: renderModprobeConf(),
    });
  });
});
