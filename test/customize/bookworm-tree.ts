/** A real bookworm root tree for the root tests: mmdebstrap'd once into a cached tarball, extracted per test. */
import fs from 'node:fs';
import path from 'node:path';
import { runCommand } from '../../src/tools/exec.js';
import { tempDir } from '../helpers/customize-fixtures.js';

const CACHE_DIR = process.env.XENKIT_TEST_CACHE ?? '/var/cache/xenkit-test/customize';
const TARBALL = path.join(CACHE_DIR, 'bookworm-openssh.tar');

/** The cached tarball, made with mmdebstrap (installed with apt-get when missing) on first use. */
export async function bookwormTarball(): Promise<string> {
  if (fs.existsSync(TARBALL)) return TARBALL;
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  if (!fs.existsSync('/usr/bin/mmdebstrap')) {
    await runCommand(['apt-get', 'install', '-y', '--no-install-recommends', 'mmdebstrap'], {
      env: { DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
  const partial = `${TARBALL}.partial`;
  await runCommand([
    'mmdebstrap',
    '--quiet',
    '--variant=apt',
    '--include=openssh-server,systemd-sysv,sudo',
    '--format=tar',
    'bookworm',
    partial,
  ]);
  fs.renameSync(partial, TARBALL);
  return TARBALL;
}

/** A fresh copy of the bookworm tree in a temporary directory (owners and modes preserved). */
export async function extractBookwormTree(): Promise<string> {
  const tarball = await bookwormTarball();
  const root = tempDir('xenkit-bookworm-');
  await runCommand(['tar', '-xpf', tarball, '-C', root, '--numeric-owner']);
  return root;
}
