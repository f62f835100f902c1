/**
 * The module layers of src/, and the lint rule that keeps imports pointing down them.
 *
 * A file may import from its own top-level folder, or from a folder of a strictly lower layer.
 * Folders of the same layer are peers and stay independent of each other. README ("Layout")
 * mirrors this table; change both together.
 */
import path from 'node:path';

/** Top-level folder (or root file) of src/ -> layer, lowest first. */
export const LAYERS = {
  errors: 0,
  log: 0,
  paths: 0,
  model: 1,
  plan: 1,
  formats: 2,
  tools: 2,
  config: 3,
  hypervisors: 3,
  storage: 3,
  backup: 3,
  detect: 3,
  customize: 4,
  install: 4,
  images: 5,
  cli: 6,
  index: 7,
};

const SRC = path.resolve('src');

/** The top-level unit of src/ that `file` (an absolute path) belongs to, or undefined outside src/. */
export function unitOf(file) {
  const rel = path.relative(SRC, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  const [first, ...rest] = rel.split(path.sep);
  return rest.length > 0 ? first : first.replace(/\.(ts|js)$/, '');
}

/** Why importing `to` from `from` breaks the layers, or undefined when it does not. */
export function layerProblem(from, to) {
  if (from === undefined || to === undefined || from === to) return undefined;
  const a = LAYERS[from];
  const b = LAYERS[to];
  if (a === undefined) return `src/${from} has no layer in scripts/eslint-layers.mjs: add it to LAYERS`;
  if (b === undefined) return `src/${to} has no layer in scripts/eslint-layers.mjs: add it to LAYERS`;
  if (b < a) return undefined;
  return b === a
    ? `${from} and ${to} are peers (layer ${a}) and must not import each other`
    : `${from} (layer ${a}) must not import ${to} (layer ${b}): imports point down the layers`;
}

const rule = {
  meta: {
    type: 'problem',
    docs: { description: 'imports between src/ folders point down the layers of scripts/eslint-layers.mjs' },
    schema: [],
  },
  create(context) {
    const file = context.filename;
    const from = unitOf(file);
    if (from === undefined) return {};
    const check = (node, source) => {
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const target = path.resolve(path.dirname(file), source);
      const to = unitOf(target);
      const problem = layerProblem(from, to);
      if (problem === undefined) return;
      context.report({ node, message: `${problem} (${source})` });
    };
    return {
      ImportDeclaration: (node) => check(node.source, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node.source, node.source.value),
      ExportAllDeclaration: (node) => check(node.source, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node.source, node.source.value),
    };
  },
};

export const layersPlugin = { rules: { layers: rule } };
