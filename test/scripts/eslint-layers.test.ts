import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module without types
import { layerProblem, LAYERS } from '../../scripts/eslint-layers.mjs';

const lintAs = async (file: string, text: string): Promise<string[]> => {
  const eslint = new ESLint({ cwd: path.resolve('.') });
  const [result] = await eslint.lintText(text, { filePath: path.resolve(file) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'xenkit/layers').map((m) => m.message);
};

describe('the layer rule (npm run lint)', () => {
  it('fails on an upward import: plan (the step runtime) importing from images', async () => {
    const messages = await lintAs(
      'src/plan/upward.ts',
      "import { buildCreateImagePlan } from '../images/create-image-plan.js';\nexport const x = buildCreateImagePlan;\n",
    );
    expect(messages).toEqual([expect.stringContaining('plan (layer 1) must not import images (layer 5)')]);
  });

  it('fails on an import between peers of one layer', async () => {
    const messages = await lintAs('src/formats/peer.ts', "export { runCommand } from '../tools/exec.js';\n");
    expect(messages).toEqual([expect.stringContaining('formats and tools are peers (layer 2)')]);
  });

  it('passes a downward import and one within a folder', async () => {
    const text =
      "import { usageError } from '../errors.js';\nimport { openRegistry } from './qemu/registry.js';\nexport { usageError, openRegistry };\n";
    expect(await lintAs('src/hypervisors/down.ts', text)).toEqual([]);
  });

  it('names a folder that has no layer yet', () => {
    expect(layerProblem('newthing', 'errors')).toContain('src/newthing has no layer');
  });

  it('gives every folder of src/ a layer', async () => {
    const { readdirSync } = await import('node:fs');
    const units = readdirSync('src').map((e) => e.replace(/\.ts$/, ''));
    expect(units.filter((u) => !(u in LAYERS))).toEqual([]);
  });
});
