#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/bin/all.js) and commander into one file,
// dist/bundle/cli.mjs, which bin/* load: one module to read and compile instead of ~200 makes
// every command start 0.1-0.15 s sooner. The listing commands load smaller bundles instead: `xm
// list` dist/bundle/list.cjs, built from dist/cli/bin/list.js, and `xen-list-images`
// dist/bundle/list-images.cjs, from dist/cli/bin/list-images.js: the same modules without the rest
// of the CLI, a fifth (a tenth) of the code to compile. It is CommonJS so that dist/cli/bin/list-loader.js
// can compile it with V8's code cache (vm.Script; node 20 has no cache for ES modules) and so that
// its node builtins are plain require() calls (an ES import of one reads every export, which
// loads streams, fs/promises and webcrypto). The bundles sit two levels under the package root,
// as every compiled module does, so their import.meta.url-relative paths (package.json, bin/) hold.
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  legalComments: 'none',
  logLevel: 'warning',
};

await build({
  ...common,
  entryPoints: { cli: 'dist/cli/bin/all.js' },
  outdir: 'dist/bundle',
  outExtension: { '.js': '.mjs' },
  format: 'esm',
  // commander is CommonJS: its require() calls of node builtins need a real require.
  banner: {
    js: "import { createRequire as __xenkitRequire } from 'node:module';\nconst require = __xenkitRequire(import.meta.url);",
  },
});

// Builtins a listing seldom needs (QMP sockets, spawning qemu-img or xl, random bytes) are
// loaded when first used, not when the bundle starts: each require() of one of them becomes a
// proxy that requires it at its first property access. A named import reads properties of the
// proxy; a default import is __toESM(proxy).default, the proxy itself (its own keys are not
// listed, so nothing spreads or enumerates these modules: the check below keeps it so).
const LAZY = [
  'node:net',
  'node:child_process',
  'node:crypto',
  'node:os',
  'node:string_decoder',
  'node:fs/promises',
  'node:timers/promises',
];
const LAZY_HELPER = `function __xenkitLazy(id) {
  let loaded;
  const load = () => (loaded ??= require(id));
  return new Proxy({}, { get: (_, key) => load()[key], has: (_, key) => key in load(), ownKeys: () => [] });
}
`;
const list = await build({
  ...common,
  // xen-list-images gets a bundle of its own: the xm one carries the domain drivers too.
  entryPoints: { list: 'dist/cli/bin/list.js', 'list-images': 'dist/cli/bin/list-images.js' },
  outdir: 'dist/bundle',
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  // import() of a builtin becomes require(): vm.Script has no loader for import().
  supported: { 'dynamic-import': false },
  define: { 'import.meta.url': '__xenkitModuleUrl' },
  // The directive first: esbuild's own "use strict" comes after the banner, where it is no directive.
  banner: {
    js: `"use strict";\nconst __xenkitModuleUrl = require('node:url').pathToFileURL(__filename).href;`,
  },
  write: false,
});
for (const file of list.outputFiles) {
  let text = file.text;
  for (const id of LAZY) {
    const call = `require(${JSON.stringify(id)})`;
    const uses = text.split(call).length - 1;
    const known = [` = ${call};`, `__toESM(${call}, 1)`].reduce(
      (n, form) => n + text.split(form).length - 1,
      0,
    );
    if (uses !== known)
      throw new Error(`bundle.mjs: ${id} is required in a form the lazy proxy does not cover`);
    text = text.replaceAll(call, `__xenkitLazy(${JSON.stringify(id)})`);
  }
  fs.mkdirSync(path.dirname(file.path), { recursive: true });
  fs.writeFileSync(file.path, text.replace(/\n/, `\n${LAZY_HELPER}`));
}

// The loader as CommonJS too, for bin/xm.js and bin/xen-list-images.js (CommonJS, bin/package.json):
// a listing that needs no ES module starts without node's ES module loader, which took a tenth of
// it. Its import.meta.url stays that of dist/cli/bin/list-loader.js, whose paths it resolves.
await build({
  ...common,
  entryPoints: { 'list-loader': 'dist/cli/bin/list-loader.js' },
  outdir: 'dist/bundle',
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  define: { 'import.meta.url': '__xenkitLoaderUrl' },
  banner: {
    js: `"use strict";\nconst __xenkitLoaderUrl = require('node:url').pathToFileURL(require('node:path').join(__dirname, '../cli/bin/list-loader.js')).href;`,
  },
});
