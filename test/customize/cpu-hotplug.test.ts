import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  applyCpuHotplug,
  CPU_ONLINE_RULES,
  describeCpuHotplug,
  renderCpuOnlineRules,
} from '../../src/customize/cpu-hotplug.js';
import { BUILTIN_STEPS, customizeGuest, describeCustomize } from '../../src/customize/customize-guest.js';
import { findDistribution } from '../../src/config/distributions.js';
import { TreeEditor } from '../../src/customize/tree-editor.js';
import { HOST_FILES, type GuestIds } from '../../src/customize/types.js';
import { makeContext, makeFakeTree, makeSpec, tempDir, writeFiles } from '../helpers/customize-fixtures.js';

const IDS: GuestIds = { rootUuid: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', rootFs: 'ext4' };

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** The rule's `KEY{attr}OP"value"` pairs, as udev splits a rule line. */
function ruleClauses(text: string): { key: string; op: string; value: string }[] {
  const line = text.split('\n').find((l) => l.trim() && !l.startsWith('#')) ?? '';
  return line.split(/,\s*/).map((clause) => {
    const m = /^([A-Z]+(?:\{[a-z_]+\})?)(==|!=|\+=|:=|=)"([^"]*)"$/.exec(clause.trim());
    if (!m) throw new Error(`not a udev clause: ${clause}`);
    return { key: m[1] ?? '', op: m[2] ?? '', value: m[3] ?? '' };
  });
}

function editorContext(root: string) {
  const spec = makeSpec();
  const dist = findDistribution('bookworm');
  if (!dist) throw new Error('bookworm is not in the distribution table');
  const editor = new TreeEditor(root);
  const { ctx } = makeContext();
  return {
    editor,
    c: {
      root,
      spec,
      ids: IDS,
      dist,
      editor,
      step: ctx,
      host: HOST_FILES,
      useSystemctl: false,
      result: { sshHostKeys: [], warnings: [] },
    },
  };
}

describe('the cpu-hotplug customize step', () => {
  it.each([
    ['SUBSYSTEM', '==', 'cpu'],
    ['ACTION', '==', 'add'],
    ['TEST', '==', 'online'],
    ['ATTR{online}', '==', '0'],
    ['ATTR{online}', '=', '1'],
  ])('has the clause %s%s"%s" in its one rule line', (key, op, value) => {
    expect(ruleClauses(renderCpuOnlineRules())).toContainEqual({ key, op, value });
  });

  it('matches before it assigns: every test clause comes before the one assignment', () => {
    const clauses = ruleClauses(renderCpuOnlineRules());
    const assignments = clauses.map((c, i) => (c.op === '=' ? i : -1)).filter((i) => i >= 0);
    expect(assignments).toEqual([clauses.length - 1]);
  });

  it('describes the rules file it writes, with its content', () => {
    expect(describeCpuHotplug()).toEqual([
      { kind: 'write', path: CPU_ONLINE_RULES, mode: 0o644, content: renderCpuOnlineRules() },
    ]);
    expect(describeCustomize(makeSpec(), IDS)).toContainEqual(describeCpuHotplug()[0]);
  });

  it('writes the rule into a tree without /etc/udev, and rollback removes it again', async () => {
    const root = tempDir();
    dirs.push(root);
    const { editor, c } = editorContext(root);
    await applyCpuHotplug(c);
    const file = path.join(root, CPU_ONLINE_RULES);
    expect(fs.readFileSync(file, 'utf8')).toBe(renderCpuOnlineRules());
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);
    editor.rollback();
    expect(fs.existsSync(file)).toBe(false);
  });

  it('runs as a built-in step of customizeGuest, after the consoles', async () => {
    const root = makeFakeTree();
    dirs.push(root);
    const hostDir = tempDir('xenkit-host-');
    dirs.push(hostDir);
    writeFiles(hostDir, { hosts: '127.0.0.1 localhost\n', 'resolv.conf': 'nameserver 9.9.9.9\n' });
    const ids = BUILTIN_STEPS.map((s) => s.id);
    expect(ids.indexOf('cpu-hotplug')).toBe(ids.indexOf('console') + 1);
    const { ctx } = makeContext();
    await customizeGuest(root, makeSpec(), IDS, ctx, {
      host: { hosts: path.join(hostDir, 'hosts'), resolvConf: path.join(hostDir, 'resolv.conf') },
      useSystemctl: false,
    });
    expect(fs.readFileSync(path.join(root, CPU_ONLINE_RULES), 'utf8')).toContain('ATTR{online}="1"');
  });
});
