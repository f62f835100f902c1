/**
 * xenkit's xl.cfg parser and writers against Xen's own parser: libxlutil (the code inside `xl`),
 * driven by scripts/golden/xlu-dump.c, built here with gcc (Debian: gcc, libxen-dev).
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { XlValue } from '../../src/model/domain-config.js';
import { runCommand } from '../../src/tools/exec.js';
import { XenkitError } from '../../src/errors.js';
import { parseDiskSpec } from '../../src/formats/xl-cfg-disk.js';
import { parseXlCfgValues } from '../../src/formats/xl-cfg-parse.js';
import { readXlNumber } from '../../src/formats/xl-cfg-lexer.js';
import { renderGuestCfg } from '../../src/formats/xl-cfg-render.js';
import { renderXlValues } from '../../src/formats/xl-cfg-values.js';
import {
  GOLDEN_DIR,
  guestSpecFromXenToolsOptions,
  readGolden,
  type XenToolsOptions,
} from './xl-cfg-fixtures.js';

const SOURCE = fileURLToPath(new URL('../../scripts/golden/xlu-dump.c', import.meta.url));
let dir = '';
let dump = '';
let serial = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'xenkit-xlu-'));
  dump = join(dir, 'xlu-dump');
  await runCommand(['gcc', '-Wall', '-o', dump, SOURCE, '-lxlutil', '-lxenlight']);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeCfg(text: string): string {
  const file = join(dir, `c${serial++}.cfg`);
  writeFileSync(file, text);
  return file;
}

// What libxlu holds for a value: every atom is a string.
function asLibxlu(value: XlValue): unknown {
  if (Array.isArray(value)) return value.map(asLibxlu);
  return String(value);
}

// libxlu's view of ours for comparison: where we hold a number, libxlu holds its text, which
// xl reads with strtol(_, _, 0); compare the number that text means.
function alignWith(ours: XlValue, theirs: unknown): unknown {
  if (Array.isArray(ours) && Array.isArray(theirs))
    return theirs.map((t, i) => alignWith(ours[i] as XlValue, t));
  if (typeof ours === 'number' && typeof theirs === 'string') return String(readXlNumber(theirs) ?? theirs);
  return theirs;
}

async function readWithLibxlu(text: string, keys: string[]): Promise<Record<string, unknown>> {
  const result = await runCommand([dump, writeCfg(text), ...keys]);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

const optionSets = readdirSync(GOLDEN_DIR)
  .filter((file) => file.endsWith('.json'))
  .map((file) => file.replace(/\.json$/, ''));

describe('libxlu reads what xenkit writes', () => {
  it.each(optionSets)('reads the renderGuestCfg output for %s as parseXlCfgValues does', async (name) => {
    const spec = guestSpecFromXenToolsOptions(JSON.parse(readGolden(`${name}.json`)) as XenToolsOptions);
    const text = renderGuestCfg(spec);
    const ours = parseXlCfgValues(text);
    const theirs = await readWithLibxlu(text, Object.keys(ours));
    expect(theirs).toEqual(Object.fromEntries(Object.entries(ours).map(([k, v]) => [k, asLibxlu(v)])));
  });

  it('reads generated value maps as renderXlValues wrote them', async () => {
    const key = fc.stringMatching(/^[a-z][_0-9a-z]{0,9}$/);
    const text = fc.string({ unit: 'binary', maxLength: 16 }).filter((s) => !s.includes('\0'));
    const value = fc.letrec<{ v: XlValue }>((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, text, fc.nat(), fc.array(tie('v'), { maxLength: 3 })),
    })).v;
    await fc.assert(
      fc.asyncProperty(fc.dictionary(key, value, { minKeys: 1, maxKeys: 6 }), async (values) => {
        const theirs = await readWithLibxlu(renderXlValues(values), Object.keys(values));
        expect(theirs).toEqual(Object.fromEntries(Object.entries(values).map(([k, v]) => [k, asLibxlu(v)])));
      }),
      { numRuns: 60 },
    );
  });
});

describe('xenkit reads what libxlu reads', () => {
  it.each([
    'a = \'x\' ; b = "y"\n',
    'n = 0x1f\nm = 010\n',
    "l = [\n  'a',\n\n  'b',\n]\n",
    "nested = [ [ 'a', 1 ], [ ] ]\n",
    "s = 'it\\'s \\\\ \\t done'\n",
    "s = 'ab'\ns += 'cd'\nl = [ 'x' ]\nl += [ 'y' ]\n",
    "# comment\nname = 'g' # trailing comment\n",
  ])('agrees on %j', async (text) => {
    const ours = parseXlCfgValues(text);
    const theirs = await readWithLibxlu(text, Object.keys(ours));
    expect(Object.fromEntries(Object.entries(ours).map(([k, v]) => [k, alignWith(v, theirs[k])]))).toEqual(
      Object.fromEntries(Object.entries(ours).map(([k, v]) => [k, asLibxlu(v)])),
    );
  });

  it('fails on the same line of the seed sample as xl does', async () => {
    const file = `${GOLDEN_DIR}seed-test2.cfg`;
    const result = await runCommand([dump, file, 'name'], { allowFailure: true });
    expect(result.exitCode).not.toBe(0);
    const xlLine = /seed-test2\.cfg:(\d+): config parsing error near `\.'/.exec(result.stderr)?.[1];
    let ourMessage = '';
    try {
      parseXlCfgValues(readGolden('seed-test2.cfg'), 'seed-test2.cfg');
    } catch (error) {
      ourMessage = error instanceof XenkitError ? error.message : String(error);
    }
    expect(xlLine).toBeDefined();
    expect(ourMessage).toMatch(new RegExp(`^seed-test2\\.cfg:${xlLine}:\\d+: unexpected "\\."`));
  });

  it.each(["a = 'x' b = 1\n", "Name = 'x'\n", 'a = -1\n', "a = [ 'x' 'y' ]\n", "a = 'x'\r\n"])(
    'rejects %j like xl does',
    async (text) => {
      const result = await runCommand([dump, writeCfg(text), 'a'], { allowFailure: true });
      expect(result.exitCode).not.toBe(0);
      expect(() => parseXlCfgValues(text)).toThrow(XenkitError);
    },
  );
});

describe('disk specs against xlu_disk_parse', () => {
  const specs = [
    'file:/home/xen/domains/web1/disk.img,xvda2,w',
    'phy:/dev/vg0/web1-swap,xvda1,w',
    'tap:aio:/home/xen/domains/test2/disk-img,xvda2,w',
    'tap:qcow2:/srv/d.qcow2,xvda,r',
    '/dev/vg/guest-volume,,hda',
    '/dev/vg/guest-volume,raw,hda,rw',
    'format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume',
    'raw:/dev/vg/guest-volume,hda,w',
    '/root/image.iso,raw,hdc,devtype=cdrom',
    'format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso',
    'raw:/root/image.iso,hdc:cdrom,ro',
    'format=qcow2, vdev=xvda2, access=rw, target=/srv/g/disk.img',
    'vdev=xvdb, target=/odd,path with, commas',
    'format=vhd, vdev=xvdc, access=ro, backendtype=qdisk, discard, target=/x.vhd',
  ];
  it.each(specs)('reads %j as xl does', async (spec) => {
    const file = writeCfg(`disk = [ ${renderXlValues({ d: spec }).slice(4, -1)} ]\n`);
    const result = await runCommand([dump, '--disk', file, 'disk']);
    const [theirs] = JSON.parse(result.stdout) as Record<string, unknown>[];
    const { disk } = parseDiskSpec(spec);
    expect({
      target: disk.target,
      format: disk.format,
      vdev: disk.vdev,
      access: disk.access,
      cdrom: disk.isCdrom,
    }).toEqual(theirs);
  });
});

describe('paths that the positional disk syntax cannot hold', () => {
  it.each(['/srv/x,backendtype=tap', '/srv/a=b,c', "/srv/it's here"])(
    'libxlu reads a --dir of %j as exactly the intended disks',
    async (dir) => {
      const spec = guestSpecFromXenToolsOptions(
        JSON.parse(readGolden('file-sparse-dhcp.json')) as XenToolsOptions,
      );
      if (spec.storage.kind !== 'file') throw new Error('fixture is file-backed');
      const guestDir = `${dir}/domains/${spec.hostname}`;
      const text = renderGuestCfg({ ...spec, storage: { ...spec.storage, dir, guestDir } });
      const result = await runCommand([dump, '--disk', writeCfg(text), 'disk']);
      expect(JSON.parse(result.stdout)).toEqual([
        { target: `${guestDir}/disk.img`, format: 'raw', vdev: 'xvda2', access: 'rw', cdrom: false },
        { target: `${guestDir}/swap.img`, format: 'raw', vdev: 'xvda1', access: 'rw', cdrom: false },
      ]);
    },
  );
});
