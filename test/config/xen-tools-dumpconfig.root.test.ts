/**
 * Against the real xen-create-image 4.9.2: its --dumpconfig prints the %CONFIG it built from
 * the real /etc/xen-tools/xen-tools.conf (backticks run) and the command line. Every value that
 * came from that file or the command line must be what xenkit reads too.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveCreateImage } from '../../src/config/create-image.js';
import { confToRecord, parseXenToolsConf } from '../../src/formats/xen-tools-conf.js';
import { runShellCommand } from '../../src/tools/shell.js';

const TOOL = '/usr/bin/xen-create-image';
const CONF = '/etc/xen-tools/xen-tools.conf';
const ARGS = ['--dumpconfig', '--hostname=x', '--dir=/tmp', '--dhcp', '--dist=bookworm'];
const CLI_KEYS = ['hostname', 'dir', 'dhcp', 'dist'];
const WATCHED = ['/etc/xen', '/etc/xen-tools', '/var/log/xen-tools', '/etc/hosts'];

/** Perl's Data::Dumper output of a flat hash (strings, numbers, undef) as a record. */
function parseDumper(text: string): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  const re = /^\s*'((?:[^'\\]|\\.)*)' => (undef|'((?:[^'\\]|\\.)*)'|(-?[0-9.]+)),?$/gm;
  for (const m of text.matchAll(re)) {
    const unescape = (s: string): string => s.replace(/\\(['\\])/g, '$1');
    out[unescape(m[1] ?? '')] = m[2] === 'undef' ? null : m[3] !== undefined ? unescape(m[3]) : (m[4] ?? '');
  }
  return out;
}

/** A listing of the places xen-create-image writes to, to prove it wrote nothing. */
function snapshot(): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    if (!existsSync(p)) return void out.push(`${p} missing`);
    const stat = statSync(p);
    out.push(`${p} ${stat.size} ${stat.mtimeMs}`);
    if (stat.isDirectory()) for (const name of readdirSync(p).sort()) walk(path.join(p, name));
  };
  WATCHED.forEach(walk);
  return out;
}

describe.skipIf(!existsSync(TOOL) || !existsSync(CONF))('xen-create-image --dumpconfig (real)', () => {
  it('writes nothing, and agrees with xenkit on every value from the conf file and the command line', async () => {
    const before = snapshot();
    const run = spawnSync(TOOL, ARGS, { encoding: 'utf8', cwd: '/tmp' });
    expect(run.status, run.stderr).toBe(0);
    expect(snapshot()).toEqual(before);
    expect(existsSync('/var/log/xen-tools/x.log')).toBe(false);

    const perl = parseDumper(run.stdout);
    expect(Object.keys(perl).length).toBeGreaterThan(50);
    const conf = confToRecord(
      await parseXenToolsConf(readFileSync(CONF, 'utf8'), CONF, { runShell: runShellCommand }),
    );
    const fromConf = Object.keys(conf).filter((key) => !CLI_KEYS.includes(key));
    expect(fromConf.length).toBeGreaterThan(5);
    for (const key of fromConf) expect([key, perl[key]]).toEqual([key, conf[key]]);

    const request = await resolveCreateImage(ARGS, { XENKIT_ROOT: '/' }, {});
    const ours = request.settings;
    for (const key of [...fromConf, ...CLI_KEYS]) {
      const value = ours[key];
      const normalized =
        value === true ? '1' : value === false ? '0' : Array.isArray(value) ? value.join(' ') : value;
      expect([key, normalized]).toEqual([key, String(perl[key])]);
    }
  });

  it('is the real xen-tools 4.9.2', () => {
    expect(execFileSync(TOOL, ['--version'], { encoding: 'utf8' })).toMatch(/release 4\.9\.2/);
  });
});
