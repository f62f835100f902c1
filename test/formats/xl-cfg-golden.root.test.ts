import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../src/tools/exec.js';
import { renderGuestCfg } from '../../src/formats/xl-cfg-render.js';
import {
  GOLDEN_DIR,
  GOLDEN_NOW,
  addTypeLine,
  guestSpecFromXenToolsOptions,
  readGolden,
  type XenToolsOptions,
} from './xl-cfg-fixtures.js';

const DRIVER = fileURLToPath(new URL('../../scripts/golden/xen-tools-cfg.pl', import.meta.url));
const optionSets = readdirSync(GOLDEN_DIR)
  .filter((file) => file.endsWith('.json'))
  .map((file) => file.replace(/\.json$/, ''));

// Runs the real /usr/bin/xt-create-xen-config (xen-tools 4.9.2) for one option set.
async function renderWithXenTools(name: string): Promise<string> {
  const result = await runCommand(['perl', DRIVER, `${GOLDEN_DIR}${name}.json`], { timeoutMs: 60_000 });
  return result.stdout;
}

describe('golden files against the live xen-tools 4.9.2 renderer', () => {
  it('finds the real xt-create-xen-config of release 4.9.2', async () => {
    const result = await runCommand(['/usr/bin/xt-create-xen-config', '--version']);
    expect(result.stdout.trim()).toBe('xt-create-xen-config release 4.9.2');
  });

  it.each(optionSets)('golden %s.cfg is what xt-create-xen-config writes today', async (name) => {
    expect(await renderWithXenTools(name)).toBe(readGolden(`${name}.cfg`));
  });

  it.each(optionSets)('renderGuestCfg matches the live output for %s, plus the type line', async (name) => {
    const spec = guestSpecFromXenToolsOptions(JSON.parse(readGolden(`${name}.json`)) as XenToolsOptions);
    const live = await renderWithXenTools(name);
    expect(renderGuestCfg(spec, { now: GOLDEN_NOW, utc: true })).toBe(addTypeLine(live));
  });
});
