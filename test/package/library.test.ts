/**
 * xenkit as a library, the way a user gets it: `npm pack`, installed into a scratch project,
 * imported by its package name from JavaScript and type-checked from TypeScript.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = path.resolve('.');
let project: string;

const run = (argv: string[], cwd: string): string =>
  execFileSync(argv[0] as string, argv.slice(1), {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });

beforeAll(() => {
  if (!fs.existsSync(path.join(repo, 'dist/index.js'))) run(['npm', 'run', 'build'], repo);
  project = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-lib-'));
  const tarball = run(['npm', 'pack', '--silent', '--pack-destination', project], repo)
    .trim()
    .split('\n')
    .at(-1);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module' }));
  // Installed as npm would (the tarball unpacked under node_modules/xenkit), without the network:
  // commander, the one dependency, is linked from this checkout.
  const target = path.join(project, 'node_modules/xenkit');
  fs.mkdirSync(target, { recursive: true });
  run(['tar', '-xzf', path.join(project, tarball as string), '-C', target, '--strip-components=1'], project);
  fs.symlinkSync(path.join(repo, 'node_modules/commander'), path.join(project, 'node_modules/commander'));
}, 180_000);

afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

describe('the packed library', () => {
  it('lists guests, reads a cfg and plans a guest through the package entry point', () => {
    const root = path.join(project, 'root');
    fs.mkdirSync(path.join(root, 'etc/xen'), { recursive: true });
    fs.writeFileSync(
      path.join(root, 'etc/xen/web1.cfg'),
      "name = 'web1'\nmemory = 256\nvif = ['mac=00:16:3e:00:00:01,ip=192.0.2.5']\ndisk = ['file:/srv/xen/domains/web1/disk.img,xvda2,w']\n",
    );
    const script = `
      import { makePaths, listImages, parseXlCfg, resolveCreateImage, buildCreateImagePlan, planToJSON, XenkitError } from 'xenkit';
      import { readFileSync } from 'node:fs';
      const root = ${JSON.stringify(root)};
      const guests = await listImages(makePaths(root), { running: { xl: false } });
      const cfg = parseXlCfg(readFileSync(root + '/etc/xen/web1.cfg', 'utf8'));
      const request = await resolveCreateImage(['--hostname=web2', '--dir=/srv/xen', '--dhcp', '--root', root], {});
      const { plan } = buildCreateImagePlan({ spec: request.spec, paths: request.paths, passwordHash: undefined });
      let bad;
      try { await resolveCreateImage(['--hostname=../x', '--root', root], {}); } catch (e) { bad = e instanceof XenkitError && e.kind; }
      console.log(JSON.stringify({
        guests: guests.map((g) => [g.name, g.ips]),
        memory: cfg.memory,
        steps: planToJSON(plan).steps.map((s) => s.id),
        bad,
      }));`;
    const out = JSON.parse(run(['node', '--input-type=module', '-e', script], project)) as {
      guests: [string, string[]][];
      memory: number;
      steps: string[];
      bad: string;
    };
    expect(out.guests).toEqual([['web1', ['192.0.2.5']]]);
    expect(out.memory).toBe(256);
    expect(out.steps).toContain('config.domain');
    expect(out.bad).toBe('usage');
    // Nothing was written by planning.
    expect(fs.readdirSync(root).sort()).toEqual(['etc']);
  });

  it('ships types that a TypeScript consumer compiles against', { timeout: 120_000 }, () => {
    fs.writeFileSync(
      path.join(project, 'consumer.ts'),
      "import { makePaths, listImages, type ListedGuest, type GuestSpec } from 'xenkit';\n" +
        'export async function names(root: string): Promise<string[]> {\n' +
        '  const guests: ListedGuest[] = await listImages(makePaths(root));\n' +
        '  return guests.map((g) => g.name);\n' +
        '}\nexport type Spec = GuestSpec;\n',
    );
    const tsc = path.join(repo, 'node_modules/typescript/bin/tsc');
    run(
      [
        'node',
        tsc,
        '--noEmit',
        '--strict',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--types',
        'node',
        '--typeRoots',
        path.join(repo, 'node_modules/@types'),
        'consumer.ts',
      ],
      project,
    );
    expect(fs.existsSync(path.join(project, 'node_modules/xenkit/dist/index.d.ts'))).toBe(true);
  });
});
