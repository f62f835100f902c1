import { describe, expect, it } from 'vitest';
import { stateKey, stateList } from '../../src/plan/step-state.js';

describe('typed step-state keys', () => {
  it('hands a value from one step to a later one under its name, and forgets it on delete', () => {
    const ctx = { state: new Map<string, unknown>() };
    const tree = stateKey<{ dir: string }>('update.tree');
    expect(tree.get(ctx)).toBeUndefined();
    expect(tree.has(ctx)).toBe(false);
    tree.set(ctx, { dir: '/mnt/t' });
    expect(tree.get(ctx)).toEqual({ dir: '/mnt/t' });
    expect(ctx.state.get('update.tree')).toEqual({ dir: '/mnt/t' });
    expect(tree.has(ctx)).toBe(true);
    tree.delete(ctx);
    expect(tree.has(ctx)).toBe(false);
  });

  it('keeps a list in the order steps added to it, empty before the first', () => {
    const ctx = { state: new Map<string, unknown>() };
    const images = stateList<string>('storage.images');
    expect(images.items(ctx)).toEqual([]);
    images.add(ctx, 'disk.img');
    const before = images.items(ctx);
    images.add(ctx, 'swap.img');
    expect(images.items(ctx)).toEqual(['disk.img', 'swap.img']);
    // A list read earlier is a snapshot: later additions do not change it under the reader.
    expect(before).toEqual(['disk.img']);
  });
});
