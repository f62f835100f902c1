import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderGuestCfg } from '../../src/formats/xl-cfg-render.js';
import { parseXlCfg } from '../../src/formats/xl-cfg-parse.js';
import {
  GOLDEN_DIR,
  GOLDEN_NOW,
  addTypeLine,
  guestSpecFromXenToolsOptions,
  readGolden,
  type XenToolsOptions,
} from './xl-cfg-fixtures.js';

const optionSets = readdirSync(GOLDEN_DIR)
  .filter((file) => file.endsWith('.json'))
  .map((file) => file.replace(/\.json$/, ''));

describe('renderGuestCfg against xen-tools 4.9.2 golden files', () => {
  it('has at least the six option sets the golden files must cover', () => {
    expect(optionSets.length).toBeGreaterThanOrEqual(6);
  });

  it.each(optionSets)('writes what xen-tools writes for %s, plus the type line', (name) => {
    const options = JSON.parse(readGolden(`${name}.json`)) as XenToolsOptions;
    const rendered = renderGuestCfg(guestSpecFromXenToolsOptions(options), { now: GOLDEN_NOW, utc: true });
    expect(rendered).toBe(addTypeLine(readGolden(`${name}.cfg`)));
  });

  it.each(optionSets)('writes a config for %s that parses to the same guest', (name) => {
    const options = JSON.parse(readGolden(`${name}.json`)) as XenToolsOptions;
    const spec = guestSpecFromXenToolsOptions(options);
    const config = parseXlCfg(renderGuestCfg(spec), `${name}.cfg`);
    expect(config.name).toBe(options.hostname);
    expect(config.type).toBe('pv');
    expect(config.memory * 1024 * 1024).toBe(spec.memory);
    expect(config.disks[0]?.vdev).toBe(spec.disk.device);
    expect(config.vifs[0]?.mac).toBe(spec.network.mac);
    expect(config.vifs[0]?.ip).toBe(options.ip?.join(' '));
    expect(config.bootloader).toBe(options.pygrub ? 'pygrub' : undefined);
  });
});
