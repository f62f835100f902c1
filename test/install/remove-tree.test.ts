import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTree } from '../../src/install/remove-tree.js';
import type { LogEvent } from '../../src/log/events.js';

const scratch = await mkdtemp(path.join(tmpdir(), 'xenkit-rmtree-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe('removeTree', () => {
  it('removes a tree with rm -rf --one-file-system and logs it', async () => {
    const tree = path.join(scratch, 'tree');
    await mkdir(path.join(tree, 'a/b'), { recursive: true });
    await writeFile(path.join(tree, 'a/b/file'), 'x');
    const events: LogEvent[] = [];
    await removeTree(tree, { sink: (e) => events.push(e) });
    await expect(stat(tree)).rejects.toThrow();
    expect(events[0]).toMatchObject({ type: 'exec', argv: ['rm', '-rf', '--one-file-system', '--', tree] });
  });

  it('does nothing for a path that is already gone', async () => {
    await expect(removeTree(path.join(scratch, 'never-made'))).resolves.toBeUndefined();
  });
});
