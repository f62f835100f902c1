import { describe, expect, it } from 'vitest';
import { renderFstab } from '../../src/customize/fstab.js';
import { makeSpec } from '../helpers/customize-fixtures.js';

const ROOT = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
const SWAP = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';

describe('renderFstab', () => {
  it('mounts root and swap by UUID, never by /dev/xvd* name', () => {
    const fstab = renderFstab(makeSpec(), { rootUuid: ROOT, rootFs: 'ext4', swapUuid: SWAP });
    expect(fstab).toContain(`UUID=${ROOT}\t/\text4\tnoatime,errors=remount-ro\t0\t1`);
    expect(fstab).toContain(`UUID=${SWAP}\tnone\tswap\tsw\t0\t0`);
    expect(fstab).not.toMatch(/\/dev\//);
  });

  it('leaves swap out when the guest has none', () => {
    const fstab = renderFstab(makeSpec({ swap: undefined }), {
      rootUuid: ROOT,
      rootFs: 'ext4',
      swapUuid: SWAP,
    });
    expect(fstab).not.toContain('swap');
  });

  it.each([
    ['ext4', 1],
    ['ext3', 1],
    ['xfs', 0],
    ['btrfs', 0],
  ] as const)('gives %s the fsck pass %d', (fs, pass) => {
    expect(renderFstab(makeSpec(), { rootUuid: ROOT, rootFs: fs })).toMatch(
      new RegExp(`\\t/\\t${fs}\\t.*\\t0\\t${pass}\\n`),
    );
  });

  it('refuses a UUID that is not one', () => {
    expect(() => renderFstab(makeSpec(), { rootUuid: 'xvda2', rootFs: 'ext4' })).toThrow(/not a UUID/);
  });
});
