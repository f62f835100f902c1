import { describe, expect, it } from 'vitest';
import { blkidArgv, parseBlkidExport } from '../../src/tools/blkid.js';

describe('parseBlkidExport', () => {
  it('reads type, UUID, label and usage', () => {
    const text =
      'DEVNAME=img\nUUID=11111111-2222-3333-4444-555555555555\nLABEL=my\\ root\nTYPE=ext4\nUSAGE=filesystem\n';
    expect(parseBlkidExport(text)).toEqual({
      type: 'ext4',
      uuid: '11111111-2222-3333-4444-555555555555',
      label: 'my root',
      usage: 'filesystem',
    });
  });

  it('leaves missing fields undefined', () => {
    expect(parseBlkidExport('TYPE=swap\n')).toEqual({
      type: 'swap',
      uuid: undefined,
      label: undefined,
      usage: undefined,
    });
  });

  it('probes low-level so the blkid cache is not involved', () => {
    expect(blkidArgv('/x')).toEqual(['blkid', '-p', '-o', 'export', '/x']);
  });
});
