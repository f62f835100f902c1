/**
 * Fake bootstrappers for unit tests: shell scripts put first on PATH that record their argv, print
 * progress like the real tools, build a tiny "root tree" with the things sanitizing must remove,
 * and fail or hang when told to (through a `mode` file next to them, since children get a clean
 * environment).
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export type FakeMode = 'ok' | 'fail' | 'hang' | 'no-shell';

const SCRIPT = `#!/bin/sh
here=$(dirname "$0")
mode=$(cat "$here/mode" 2>/dev/null || echo ok)
: > "$here/argv.$(basename "$0")"
for a in "$@"; do printf '%s\\n' "$a" >> "$here/argv.$(basename "$0")"; done
# The target: after "--" for mmdebstrap, else the second to last argument (suite target mirror).
target=""
prev=""
seen_dashdash=0
for a in "$@"; do
  if [ "$seen_dashdash" = 1 ] && [ -n "$prev" ] && [ -z "$target" ]; then target="$a"; fi
  if [ "$seen_dashdash" = 1 ]; then prev="$a"; fi
  [ "$a" = "--" ] && seen_dashdash=1
done
if [ -z "$target" ]; then eval "target=\\\${$(($# - 1))}"; fi
echo "I: running apt-get update..." >&2
echo "0 upgraded, 2 newly installed, 0 to remove and 0 not upgraded." >&2
echo "Get:1 http://deb.debian.org/debian bookworm/main amd64 bash amd64 5.2 [1491 kB]" >&2
echo "I: Retrieving bash 5.2" >&2
if [ "$mode" = fail ]; then echo "E: Unable to locate package nonexistent" >&2; exit 1; fi
if [ "$mode" = hang ]; then echo $$ > "$here/pid"; exec sleep 300; fi
mkdir -p "$target/usr/bin" "$target/etc/ssh" "$target/var/cache/apt/archives" "$target/var/lib/dpkg" "$target/boot"
ln -s usr/bin "$target/bin"
[ "$mode" = no-shell ] || echo '#!' > "$target/usr/bin/sh"
echo secret > "$target/etc/ssh/ssh_host_ed25519_key"
echo '# config' > "$target/etc/ssh/sshd_config"
echo deb > "$target/var/cache/apt/archives/bash_5.2_amd64.deb"
echo 0123456789abcdef > "$target/etc/machine-id"
printf 'Package: bash\\nStatus: install ok installed\\n\\nPackage: dash\\nStatus: install ok installed\\n' > "$target/var/lib/dpkg/status"
echo k > "$target/boot/vmlinuz-6.1.0-9-amd64"
echo i > "$target/boot/initrd.img-6.1.0-9-amd64"
# Like mmdebstrap: every --aptopt lands in the target's 99mmdebstrap.
for a in "$@"; do
  case "$a" in --aptopt=*) mkdir -p "$target/etc/apt/apt.conf.d"; printf '%s;\n' "\${a#--aptopt=}" >> "$target/etc/apt/apt.conf.d/99mmdebstrap";; esac
done
echo "Unpacking bash:amd64 (5.2) ..." >&2
echo "Setting up bash:amd64 (5.2) ..." >&2
echo "I: Configuring bash..." >&2
exit 0
`;

/** Writes fake `mmdebstrap` and `debootstrap` into `dir`. */
export async function installFakeTools(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const name of ['mmdebstrap', 'debootstrap']) {
    await writeFile(path.join(dir, name), SCRIPT);
    await chmod(path.join(dir, name), 0o755);
  }
  await setFakeMode(dir, 'ok');
}

/** Chooses how the fakes behave on their next run. */
export async function setFakeMode(dir: string, mode: FakeMode): Promise<void> {
  await writeFile(path.join(dir, 'mode'), mode);
}

/** The argv the fake `name` was last run with (without the program itself). */
export async function fakeArgv(dir: string, name: string): Promise<string[]> {
  return (await readFile(path.join(dir, `argv.${name}`), 'utf8')).split('\n').filter((l) => l !== '');
}
