#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/bin/all.js) and commander into one file,
// dist/bundle/cli.mjs, which bin/* load: one module to read and compile instead of ~200 makes
// every command start 0.1-0.15 s sooner. The listing commands (`xm list`, `xen-list-images`) load
// dist/bundle/list.cjs instead, built from dist/cli/bin/list.js: the same modules without the rest
// of the CLI, a fifth of the code to compile. It is CommonJS so that dist/cli/bin/list-loader.js
// can compile it with V8's code cache (vm.Script; node 20 has no cache for ES modules) and so that
// its node builtins are plain require() calls (an ES import of one reads every export, which
// loads streams, fs/promises and webcrypto). The bundles sit two levels under the package root,
// as every compiled module does, so their import.meta.url-relative paths (package.json, bin/) hold.
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

await build({
  ...common,
  entryPoints: { list: 'dist/cli/bin/list.js' },
  outdir: 'dist/bundle',
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  // import() of a builtin becomes require(): vm.Script has no loader for import().
  supported: { 'dynamic-import': false },
  define: { 'import.meta.url': '__xenkitModuleUrl' },
  banner: { js: "const __xenkitModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
});
