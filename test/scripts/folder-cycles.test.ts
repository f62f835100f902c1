import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module without types
import { cyclesOf, folderGraph } from '../../scripts/folder-cycles.mjs';

type Graph = Map<string, Map<string, number>>;
const graphOf = (edges: Record<string, string[]>): Graph =>
  new Map(Object.entries(edges).map(([from, to]) => [from, new Map(to.map((t) => [t, 1]))]));

describe('scripts/folder-cycles.mjs', () => {
  it('finds no cycle among the folders of src/', () => {
    const graph = folderGraph() as Graph;
    expect(graph.get('cli')?.has('images')).toBe(true);
    expect(cyclesOf(graph)).toEqual([]);
  });

  it('finds a cycle, and only the folders in it', () => {
    const graph = graphOf({ plan: ['images', 'errors'], images: ['plan'], errors: [] });
    expect(cyclesOf(graph)).toEqual([['images', 'plan']]);
  });
});
