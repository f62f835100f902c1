import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findDistribution } from '../../src/config/distributions.js';
import {
  applySshHostKeys,
  generateHostKeys,
  HOST_KEYS_AHEAD,
  startHostKeysAhead,
} from '../../src/customize/identity.js';
import { TreeEditor } from '../../src/customize/tree-editor.js';
import { HOST_FILES, type CustomizeContext } from '../../src/customize/types.js';
import type { StepContext } from '../../src/plan/plan.js';
import { fingerprintKey } from '../../src/tools/ssh-keygen.js';
import { makeContext, makeSpec, tempDir } from '../helpers/customize-fixtures.js';

function customizeContext(root: string, ctx: StepContext): CustomizeContext {
  return {
    root,
    spec: makeSpec(),
    ids: { rootUuid: '00000000-0000-0000-0000-000000000000', rootFs: 'ext4' },
    dist: findDistribution('bookworm')!,
    editor: new TreeEditor(root),
    step: ctx,
    host: HOST_FILES,
    useSystemctl: false,
    result: { sshHostKeys: [], warnings: [] },
  };
}

describe('SSH host keys (real ssh-keygen)', () => {
  it('makes ed25519, ecdsa and rsa keys whose fingerprints it reports, and disposes of them', async () => {
    const set = await generateHostKeys('root@web1');
    expect(set.keys.map((k) => [k.type, k.bits])).toEqual([
      ['ed25519', 256],
      ['ecdsa', 256],
      ['rsa', 3072],
    ]);
    for (const key of set.keys) {
      const print = await fingerprintKey(path.join(set.dir, `ssh_host_${key.type}_key.pub`));
      expect(print.fingerprint).toBe(key.fingerprint);
      expect(print.comment).toBe('root@web1');
    }
    expect(fs.statSync(set.dir).mode & 0o777).toBe(0o700);
    set.dispose();
    expect(fs.existsSync(set.dir)).toBe(false);
  });

  it('installs the keys made ahead for the same guest, and leaves no temp dir behind', async () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'etc/ssh'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/ssh/ssh_host_rsa_key'), 'old key');
    const { ctx } = makeContext();
    startHostKeysAhead('web1', ctx);
    const ahead = await HOST_KEYS_AHEAD.get(ctx)?.keys;
    if (!ahead) throw new Error('no keys were started ahead');
    const c = customizeContext(root, ctx);
    await applySshHostKeys(c);
    expect(c.result.sshHostKeys.map((k) => k.fingerprint)).toEqual(ahead.keys.map((k) => k.fingerprint));
    const installed = await fingerprintKey(path.join(root, 'etc/ssh/ssh_host_rsa_key'));
    expect(installed.fingerprint).toBe(ahead.keys[2]?.fingerprint);
    expect(fs.statSync(path.join(root, 'etc/ssh/ssh_host_rsa_key')).mode & 0o777).toBe(0o600);
    expect(fs.existsSync(ahead.dir)).toBe(false);
    await ctx.undo.commit(ctx.sink);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('removes keys made ahead that were never used when the command unwinds', async () => {
    const { ctx } = makeContext();
    startHostKeysAhead('web1', ctx);
    const ahead = await HOST_KEYS_AHEAD.get(ctx)?.keys;
    if (!ahead) throw new Error('no keys were started ahead');
    expect(fs.existsSync(ahead.dir)).toBe(true);
    await ctx.undo.unwind(ctx.sink);
    expect(fs.existsSync(ahead.dir)).toBe(false);
  });
});
