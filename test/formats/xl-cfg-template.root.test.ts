import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { classifyTemplate } from '../../src/formats/xl-cfg-template.js';
import { renderGuestCfgFromTemplate } from '../../src/images/guest-cfg-template.js';
import {
  GOLDEN_DIR,
  GOLDEN_NOW,
  guestSpecFromXenToolsOptions,
  readGolden,
  type XenToolsOptions,
} from './xl-cfg-fixtures.js';

const XM_TMPL = '/etc/xen-tools/xm.tmpl';
const optionSets = readdirSync(GOLDEN_DIR)
  .filter((file) => file.endsWith('.json'))
  .map((file) => file.replace(/\.json$/, ''));
const specOf = (name: string) =>
  guestSpecFromXenToolsOptions(JSON.parse(readGolden(`${name}.json`)) as XenToolsOptions);

describe('xen-tools templates through the real Perl Text::Template', () => {
  it('sees that the stock xm.tmpl needs Perl', () => {
    expect(classifyTemplate(readFileSync(XM_TMPL, 'utf8'))).toBe('perl');
  });

  it.each(optionSets)('fills the stock xm.tmpl for %s exactly as xt-create-xen-config did', async (name) => {
    const rendered = await renderGuestCfgFromTemplate(specOf(name), XM_TMPL, { now: GOLDEN_NOW, utc: true });
    expect(rendered).toBe(readGolden(`${name}.cfg`));
  });

  it('fills a custom template using PARTITIONS, conditionals and UTF-8 text', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenkit-tmpl-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'custom.tmpl');
    writeFileSync(
      file,
      [
        '# Gästekonfiguration für {$hostname}',
        "type = '{$type}'",
        '{ $pygrub ? "bootloader = \'pygrub\'" : "kernel = \'$kernel\'" }',
        "disk = [ { join ', ', map { \"'$_->{imagetype}$_->{image},$device\" . ($_->{mountpoint} eq '/' ? 2 : 1) . \",w'\" } @PARTITIONS } ]",
        '',
      ].join('\n'),
    );
    const rendered = await renderGuestCfgFromTemplate(specOf('lvm-fqdn'), file);
    expect(rendered).toBe(
      [
        '# Gästekonfiguration für db1.example.org',
        "type = 'pv'",
        "kernel = '/boot/vmlinuz-6.1.0-13-amd64'",
        "disk = [ 'phy:/dev/vg0/db1.example.org-swap,xvda1,w', 'phy:/dev/vg0/db1.example.org-disk,xvda2,w' ]",
        '',
      ].join('\n'),
    );
  });

  it('reports a template whose Perl code dies, naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenkit-tmpl-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'broken.tmpl');
    writeFileSync(file, "name = '{$hostname}'\n{ die 'no such option' }\n");
    await expect(renderGuestCfgFromTemplate(specOf('noswap'), file)).rejects.toThrow(
      new RegExp(`template "${file}" failed: .*no such option`),
    );
  });
});
