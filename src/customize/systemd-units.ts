/**
 * Enables systemd units inside a guest tree without booting it: `systemctl --root=DIR enable`
 * when the host has systemctl (it works offline), else the same symlinks made directly from the
 * unit's [Install] section. Either way every created link is journaled for undo.
 */
import fs from 'node:fs';
import path from 'node:path';
import { hasCommand, runCommand } from '../tools/exec.js';
import type { CustomizeContext } from './types.js';
import type { TreeEditor } from './tree-editor.js';

const UNIT_DIRS = ['/etc/systemd/system', '/lib/systemd/system', '/usr/lib/systemd/system'];
const CONFIG_DIR = '/etc/systemd/system';

/** The guest path of a unit's file (`serial-getty@ttyS0.service` finds `serial-getty@.service`). */
export function findUnitFile(editor: TreeEditor, unit: string): string | undefined {
  const template = unit.replace(/@[^.]+\./, '@.');
  for (const dir of UNIT_DIRS) {
    for (const name of unit === template ? [unit] : [unit, template]) {
      const candidate = `${dir}/${name}`;
      if (editor.exists(candidate)) return candidate;
    }
  }
  return undefined;
}

/** Whether the guest ships a unit. */
export function hasUnit(editor: TreeEditor, unit: string): boolean {
  return findUnitFile(editor, unit) !== undefined;
}

/** Enables units in the guest; returns the ones that are not installed there (and were skipped). */
export async function enableUnits(
  c: Pick<CustomizeContext, 'root' | 'editor' | 'step' | 'useSystemctl'>,
  units: string[],
): Promise<string[]> {
  const present = units.filter((u) => hasUnit(c.editor, u));
  const missing = units.filter((u) => !present.includes(u));
  // Units enabled already (a clone, an update) cost nothing: no systemctl run, no tree walk.
  const toEnable = present.filter((u) => !isEnabled(c.editor, u));
  if (toEnable.length === 0) return missing;
  if (c.useSystemctl && (await hasCommand('systemctl'))) {
    const before = listTree(c.root);
    await runCommand(['systemctl', '--quiet', `--root=${c.root}`, 'enable', ...toEnable], {
      sink: c.step.sink,
      signal: c.step.signal,
    });
    for (const created of [...listTree(c.root)].filter((p) => !before.has(p))) c.editor.noteCreated(created);
  } else {
    for (const unit of toEnable) linkUnit(c.editor, unit, new Set());
  }
  return missing;
}

/**
 * Whether a unit's own [Install] links (WantedBy, RequiredBy, Alias) are all in place, as
 * `systemctl is-enabled` sees it; a unit without any is static and needs no enabling.
 */
export function isEnabled(editor: TreeEditor, unit: string): boolean {
  const file = findUnitFile(editor, unit);
  if (!file) return false;
  const install = parseInstallSection(editor.read(file) ?? '');
  return installLinks(install, unit).every((link) => editor.isPresent(link));
}

/** The symlinks `systemctl enable` makes for a unit's own [Install] section (Also= aside). */
function installLinks(install: InstallSection, unit: string): string[] {
  return [
    ...install.wantedBy.map((target) => `${CONFIG_DIR}/${target}.wants/${unit}`),
    ...install.requiredBy.map((target) => `${CONFIG_DIR}/${target}.requires/${unit}`),
    ...install.alias.map((alias) => `${CONFIG_DIR}/${alias}`),
  ];
}

/** Makes the [Install] symlinks of one unit the way `systemctl enable` does. */
export function linkUnit(editor: TreeEditor, unit: string, done: Set<string>): void {
  if (done.has(unit)) return;
  done.add(unit);
  const file = findUnitFile(editor, unit);
  if (!file) return;
  const install = parseInstallSection(editor.read(file) ?? '');
  for (const link of installLinks(install, unit)) editor.symlink(link, file);
  for (const also of install.also) linkUnit(editor, also, done);
}

interface InstallSection {
  wantedBy: string[];
  requiredBy: string[];
  alias: string[];
  also: string[];
}

/** Parses the [Install] section of a unit file. */
export function parseInstallSection(text: string): InstallSection {
  const result: InstallSection = { wantedBy: [], requiredBy: [], alias: [], also: [] };
  let inInstall = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) inInstall = line === '[Install]';
    if (!inInstall || !line.includes('=') || line.startsWith('#')) continue;
    const [key = '', value = ''] = line.split(/=(.*)/s);
    const values = value.trim().split(/\s+/).filter(Boolean);
    if (key.trim() === 'WantedBy') result.wantedBy.push(...values);
    if (key.trim() === 'RequiredBy') result.requiredBy.push(...values);
    if (key.trim() === 'Alias') result.alias.push(...values);
    if (key.trim() === 'Also') result.also.push(...values);
  }
  return result;
}

/** Every path under /etc/systemd/system of a tree, parents before children (guest paths). */
function listTree(root: string): Set<string> {
  const out = new Set<string>();
  const walk = (guestDir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(root, guestDir), { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const guestPath = `${guestDir}/${entry.name}`;
      out.add(guestPath);
      if (entry.isDirectory()) walk(guestPath);
    }
  };
  walk(CONFIG_DIR);
  return out;
}
