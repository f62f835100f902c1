import { describe, expect, it } from 'vitest';
import { readReleaseCodename, substituteUuids } from '../../src/images/clone-identity.js';
import { parseAptSummary } from '../../src/images/update-plan.js';

describe('substituteUuids', () => {
  const uuids = new Map([
    ['A832FDFC-F402-4783-AA56-E3196DDBEB64', '11111111-2222-3333-4444-555555555555'],
    ['078f55e3-ef77-49d7-8fa5-9d264aa1bf59', '66666666-7777-8888-9999-000000000000'],
  ]);
  it.each([
    [
      'UUID=a832fdfc-f402-4783-aa56-e3196ddbeb64\t/\text4',
      'UUID=11111111-2222-3333-4444-555555555555\t/\text4',
    ],
    [
      'kernel /boot/vmlinuz root=UUID=A832FDFC-F402-4783-AA56-E3196DDBEB64 ro',
      'kernel /boot/vmlinuz root=UUID=11111111-2222-3333-4444-555555555555 ro',
    ],
    ['RESUME=UUID=078f55e3-ef77-49d7-8fa5-9d264aa1bf59', 'RESUME=UUID=66666666-7777-8888-9999-000000000000'],
    ['no uuid here', 'no uuid here'],
  ])('rewrites %s', (before, after) => {
    expect(substituteUuids(before, uuids)).toBe(after);
  });
});

describe('readReleaseCodename', () => {
  it.each([
    ['VERSION_CODENAME=bookworm\nID=debian\n', 'bookworm'],
    ['ID=ubuntu\nVERSION_CODENAME="noble"\n', 'noble'],
    ['ID=debian\n', undefined],
    [undefined, undefined],
  ])('reads %j', (text, expected) => {
    expect(readReleaseCodename(text)).toBe(expected);
  });
});

describe('parseAptSummary', () => {
  it.each([
    [
      'Reading...\n3 upgraded, 1 newly installed, 0 to remove and 0 not upgraded.\n',
      { upgraded: 3, newlyInstalled: 1 },
    ],
    ['0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n', { upgraded: 0, newlyInstalled: 0 }],
    ['nothing\n', undefined],
  ])('reads apt-get summary %#', (text, expected) => {
    expect(parseAptSummary(text)).toEqual(expected);
  });
});
