import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  addHostsLine,
  hostsLineFor,
  namesHost,
  ownLines,
  removeHostsLines,
} from '../../src/images/host-hosts.js';
import { makePaths } from '../../src/paths.js';
import { makeRoot } from '../helpers/config-fixtures.js';
import { makeSpec } from '../helpers/customize-fixtures.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function scratch(hosts?: string) {
  const { root, cleanup } = makeRoot(hosts === undefined ? { 'etc/': '' } : { 'etc/hosts': hosts });
  cleanups.push(cleanup);
  return { paths: makePaths(root), file: path.join(root, 'etc/hosts') };
}

const BEFORE = '127.0.0.1\tlocalhost\n# a comment naming web1\n\n10.0.0.1 gw\n';
const LINE = '10.0.0.5    web1    # xenkit guest web1';

describe("the guest's line in the host's /etc/hosts", () => {
  it('is written for a static address only, with both names of a qualified host', () => {
    const spec = makeSpec(
      { hostname: 'web1.example.org', name: 'web1' },
      { mode: 'static', addresses: [{ address: '10.0.0.5', prefix: 24 }] },
    );
    expect(hostsLineFor(spec)).toBe('10.0.0.5    web1.example.org web1    # xenkit guest web1.example.org');
    expect(hostsLineFor(makeSpec({}, { mode: 'dhcp', addresses: [] }))).toBeUndefined();
  });

  it('is appended keeping every other byte, and taken out again the same way', async () => {
    const { paths, file } = scratch(BEFORE);
    fs.chmodSync(file, 0o644);
    expect(await addHostsLine(paths, 'web1', LINE)).toEqual({ added: true, created: false });
    expect(fs.readFileSync(file, 'utf8')).toBe(`${BEFORE}${LINE}\n`);
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);
    expect(ownLines(fs.readFileSync(file, 'utf8'), 'web1')).toEqual([LINE]);
    expect(await removeHostsLines(paths, 'web1')).toBe(1);
    expect(fs.readFileSync(file, 'utf8')).toBe(BEFORE);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['hosts']);
  });

  it('is not added twice, nor when a line of the admin names the guest already', async () => {
    const { paths, file } = scratch(BEFORE);
    await addHostsLine(paths, 'web1', LINE);
    expect((await addHostsLine(paths, 'web1', LINE)).added).toBe(false);
    const own = scratch('192.0.2.9 web2 # admin\n');
    expect((await addHostsLine(own.paths, 'web2', '10.0.0.6    web2    # xenkit guest web2')).added).toBe(
      false,
    );
    expect(fs.readFileSync(own.file, 'utf8')).toBe('192.0.2.9 web2 # admin\n');
    expect(fs.readFileSync(file, 'utf8').split(LINE).length).toBe(2);
  });

  it('leaves lines of other guests and a look-alike without the marker alone', async () => {
    const text = `${BEFORE}10.0.0.7    web10    # xenkit guest web10\n10.0.0.5 web1\n`;
    const { paths, file } = scratch(text);
    expect(await removeHostsLines(paths, 'web1')).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toBe(text);
  });

  it('makes the file when there is none, and the undo of that run removes it again', async () => {
    const { paths, file } = scratch();
    expect(await addHostsLine(paths, 'web1', LINE)).toEqual({ added: true, created: true });
    expect(fs.readFileSync(file, 'utf8')).toBe(`${LINE}\n`);
    await removeHostsLines(paths, 'web1', true);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('reads a name only in the names of a line, not in its address or comment', () => {
    expect(namesHost('10.0.0.5 web1\n', 'web1')).toBe(true);
    expect(namesHost('# web1 is gone\nweb1 10.0.0.5\n', 'web1')).toBe(false);
  });
});
