#!/usr/bin/env node
// The folder graph of src/: which top-level folder (or file: errors, paths, index) imports which,
// with the number of import lines, and every cycle among them (strongly connected components of
// more than one folder). Exit status 1 when there is a cycle. `--json` prints {edges, cycles}.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src');
const IMPORT = /^\s*(?:import|export)\b[^'"]*?from\s+'(\.[^']+)'/gm;

/** The top-level unit of a path under src/: its first folder, or the file's name without .ts. */
const unitOf = (file) =>
  path
    .relative(SRC, file)
    .split(path.sep)[0]
    .replace(/\.[jt]s$/, '');

/** unit -> Map(imported unit -> number of import lines). */
export function folderGraph(src = SRC) {
  const graph = new Map();
  for (const rel of readdirSync(src, { recursive: true, encoding: 'utf8' })) {
    if (!rel.endsWith('.ts')) continue;
    const file = path.join(src, rel);
    const from = unitOf(file);
    const edges = graph.get(from) ?? new Map();
    graph.set(from, edges);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const to = unitOf(path.resolve(path.dirname(file), spec));
      if (to !== from) edges.set(to, (edges.get(to) ?? 0) + 1);
    }
  }
  return graph;
}

/** The strongly connected components of more than one unit (Tarjan). */
export function cyclesOf(graph) {
  let index = 0;
  const stack = [];
  const info = new Map();
  const cycles = [];
  const visit = (v) => {
    info.set(v, { index, low: index, onStack: true });
    index += 1;
    stack.push(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!info.has(w)) {
        visit(w);
        info.get(v).low = Math.min(info.get(v).low, info.get(w).low);
      } else if (info.get(w).onStack) info.get(v).low = Math.min(info.get(v).low, info.get(w).index);
    }
    if (info.get(v).low === info.get(v).index) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        info.get(w).onStack = false;
        component.push(w);
      } while (w !== v);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!info.has(v)) visit(v);
  return cycles;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const graph = folderGraph();
  const cycles = cyclesOf(graph);
  if (process.argv.includes('--json')) {
    const edges = [...graph].flatMap(([from, to]) => [...to].map(([t, n]) => ({ from, to: t, imports: n })));
    process.stdout.write(`${JSON.stringify({ edges, cycles }, null, 2)}\n`);
  } else {
    for (const [from, to] of [...graph].sort(([a], [b]) => a.localeCompare(b))) {
      const list = [...to].sort(([a], [b]) => a.localeCompare(b)).map(([t, n]) => `${t} (${n})`);
      process.stdout.write(`${from.padEnd(12)} -> ${list.join(', ') || '(nothing)'}\n`);
    }
    process.stdout.write(
      cycles.length === 0
        ? 'no folder-level cycle\n'
        : cycles.map((c) => `cycle: ${c.join(' <-> ')}\n`).join(''),
    );
  }
  process.exitCode = cycles.length === 0 ? 0 : 1;
}
