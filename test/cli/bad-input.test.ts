/**
 * Bad input to xen-create-image, options and conf files alike: every case must be a usage
 * error (exit status 2) whose message names the offending input, with a hint, and nothing may
 * be written under the root.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { resolveCreateImage } from '../../src/config/create-image.js';
import { exitCodeFor } from '../../src/errors.js';
import type { ShellRunner } from '../../src/formats/xen-tools-conf.js';
import { errorsOf, fakeHost, listTree, makeRoot } from '../helpers/config-fixtures.js';

const shell: ShellRunner = async () => ({ stdout: '6.1.0-test\n', exitCode: 0, stderr: '' });
const BASE = ['--hostname=web1', '--dir=/srv/xen', '--dhcp'];
const STATIC = ['--hostname=web1', '--dir=/srv/xen'];
const CONF = 'etc/xen-tools/xen-tools.conf';
const PRIVATE =
  '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n';

type Case = [name: string, argv: string[], files: Record<string, string>, message: RegExp];

const CASES: Case[] = [
  // sizes and resources
  ['a size with an unknown unit', [...BASE, '--size=4X'], {}, /^--size "4X" has an unknown unit/],
  ['a negative size', [...BASE, '--size=-1G'], {}, /^--size "-1G" is not a size/],
  ['a zero size', [...BASE, '--size=0'], {}, /^--size "0" has no unit/],
  ['a zero size with a unit', [...BASE, '--size=0G'], {}, /^--size "0G" must be larger than zero/],
  ['an empty size', [...BASE, '--size='], {}, /^--size "" is empty/],
  ['a size without a unit', [...BASE, '--size=4'], {}, /^--size "4" has no unit/],
  ['a memory size with a bad unit', [...BASE, '--memory=4X'], {}, /^--memory "4X"/],
  ['zero memory', [...BASE, '--memory=0'], {}, /^--memory "0" must be larger than zero/],
  ['a negative swap', [...BASE, '--swap=-5M'], {}, /^--swap "-5M" is not a size/],
  [
    'maxmem below memory',
    [...BASE, '--memory=1G', '--maxmem=512M'],
    {},
    /^--maxmem "512M" is less than --memory/,
  ],
  ['zero vcpus', [...BASE, '--vcpus=0'], {}, /^--vcpus "0" is out of range/],
  [
    'vcpus that are not a number',
    [...BASE, '--vcpus=two'],
    {},
    /^option "--vcpus" needs a whole number, not "two"/,
  ],
  [
    'maxvcpus below vcpus',
    [...BASE, '--vcpus=4', '--maxvcpus=2'],
    {},
    /^--maxvcpus "2" is less than --vcpus/,
  ],
  // hostnames
  ['a hostname with a path', ['--hostname=../x', '--dir=/srv', '--dhcp'], {}, /^--hostname "\.\.\/x"/],
  ['a hostname with a blank', ['--hostname=a b', '--dir=/srv', '--dhcp'], {}, /^--hostname "a b"/],
  ['a hostname with a shell command', ['--hostname=x;rm', '--dir=/srv', '--dhcp'], {}, /^--hostname "x;rm"/],
  ['a hostname with a quote', ['--hostname=web"1', '--dir=/srv', '--dhcp'], {}, /^--hostname "web"1"/],
  [
    'a label over 63 characters',
    [`--hostname=${'a'.repeat(64)}.org`, '--dir=/srv', '--dhcp'],
    {},
    /^--hostname "a{64}\.org" has a label longer than 63/,
  ],
  [
    'a hostname over 253 characters',
    [`--hostname=${Array(26).fill('abcdefghij').join('.')}`, '--dir=/srv', '--dhcp'],
    {},
    /^--hostname ".*" is longer than 253/,
  ],
  [
    'a valid DNS name too long to name files (239 characters)',
    [`--hostname=${Array(4).fill('a'.repeat(59)).join('.')}`, '--dir=/srv', '--dhcp'],
    {},
    /^--hostname "(a{59}\.){3}a{59}" is longer than 200 characters/,
  ],
  ['a leading hyphen', ['--hostname=-web', '--dir=/srv', '--dhcp'], {}, /^--hostname "-web"/],
  ['a trailing hyphen', ['--hostname=web-', '--dir=/srv', '--dhcp'], {}, /^--hostname "web-"/],
  ['an empty hostname', ['--hostname=', '--dir=/srv', '--dhcp'], {}, /^--hostname is required/],
  ['no hostname', ['--dir=/srv', '--dhcp'], {}, /^--hostname is required/],
  [
    'a trailing dot',
    ['--hostname=web1.', '--dir=/srv', '--dhcp'],
    {},
    /^--hostname "web1\." has an empty label/,
  ],
  // addresses
  ['a short IPv4 address', [...STATIC, '--ip=1.2.3'], {}, /^--ip "1\.2\.3" is not an IP address/],
  ['an IPv4 octet over 255', [...STATIC, '--ip=300.1.1.1'], {}, /^--ip "300\.1\.1\.1"/],
  [
    'a prefix over 32',
    [...STATIC, '--ip=10.0.0.5/33'],
    {},
    /^--ip "10\.0\.0\.5\/33" has a bad prefix length/,
  ],
  [
    'a network address',
    [...STATIC, '--ip=192.168.1.0', '--netmask=255.255.255.0'],
    {},
    /^--ip "192\.168\.1\.0" is the network address/,
  ],
  ['a loopback address', [...STATIC, '--ip=127.0.0.1'], {}, /^--ip "127\.0\.0\.1" is a loopback/],
  ['both --ip and --dhcp', [...BASE, '--ip=10.0.0.5'], {}, /^--dhcp and --ip "10\.0\.0\.5" both given/],
  ['neither --ip nor --dhcp', STATIC, {}, /^neither --ip nor --dhcp given/],
  [
    'a non-contiguous netmask',
    [...STATIC, '--ip=10.0.0.5', '--netmask=255.0.255.0'],
    {},
    /^--netmask "255\.0\.255\.0" is not a contiguous netmask/,
  ],
  ['a netmask that is no address', [...STATIC, '--ip=10.0.0.5', '--netmask=abc'], {}, /^--netmask "abc"/],
  [
    'a gateway outside the network',
    [...STATIC, '--ip=192.168.1.10', '--netmask=255.255.255.0', '--gateway=10.0.0.1'],
    {},
    /^--gateway "10\.0\.0\.1" is not in the network of 192\.168\.1\.10\/24/,
  ],
  [
    'a gateway that is a name',
    [...STATIC, '--ip=192.168.1.10', '--gateway=router'],
    {},
    /^--gateway "router" is not an IP address/,
  ],
  [
    'a wrong broadcast',
    [...STATIC, '--ip=192.168.1.10/24', '--broadcast=192.168.1.127'],
    {},
    /^--broadcast "192\.168\.1\.127" does not match 192\.168\.1\.10\/24/,
  ],
  ['a MAC with bad hex', [...BASE, '--mac=00:16:3e:zz:00:01'], {}, /^--mac "00:16:3e:zz:00:01" is not a MAC/],
  ['a multicast MAC', [...BASE, '--mac=01:00:5e:00:00:01'], {}, /^--mac "01:00:5e:00:00:01" is a multicast/],
  ['a nameserver that is a name', [...BASE, '--nameserver=dns.example'], {}, /^--nameserver "dns\.example"/],
  ['VLAN 0', [...BASE, '--vlan=0'], {}, /^--vlan "0" is out of range/],
  ['VLAN 5000', [...BASE, '--vlan=5000'], {}, /^--vlan "5000" is out of range/],
  ['a VLAN that is no number', [...BASE, '--vlan=abc'], {}, /^--vlan "abc" is not a whole number/],
  ['a bad point-to-point peer', [...BASE, '--p2p=peer'], {}, /^--p2p "peer"/],
  [
    'a bridge name too long',
    [...BASE, '--bridge=averyveryverylongbridge'],
    {},
    /^--bridge "averyveryverylongbridge" is not an interface name/,
  ],
  // distributions and installation
  ['an unknown release', [...BASE, '--dist=hardy'], {}, /^--dist "hardy" is not a known release/],
  ['a rinse release', [...BASE, '--dist=centos-5'], {}, /^--dist "centos-5" is not a known release/],
  [
    'the rinse method',
    [...BASE, '--install-method=rinse'],
    {},
    /^--install-method "rinse" is no longer supported/,
  ],
  [
    'the rpmstrap method',
    [...BASE, '--install-method=rpmstrap'],
    {},
    /^--install-method "rpmstrap" is no longer supported/,
  ],
  [
    'the cdebootstrap method',
    [...BASE, '--install-method=cdebootstrap'],
    {},
    /^--install-method "cdebootstrap" is no longer supported/,
  ],
  ['an unknown method', [...BASE, '--install-method=foo'], {}, /^--install-method "foo" is not one of/],
  [
    'copy without a source',
    [...BASE, '--install-method=copy'],
    {},
    /^--install-method "copy" needs --install-source/,
  ],
  [
    'copy from a missing directory',
    [...BASE, '--install-method=copy', '--install-source=/nope'],
    {},
    /^--install-source "\/nope" does not exist/,
  ],
  [
    'tar from a directory',
    [...BASE, '--install-method=tar', '--install-source=/srv/tree'],
    { 'srv/tree/': '' },
    /^--install-source "\/srv\/tree" is not a file/,
  ],
  ['an unknown architecture', [...BASE, '--arch=sparc'], {}, /^--arch "sparc"/],
  [
    'a mirror without scheme',
    [...BASE, '--mirror=deb.debian.org'],
    {},
    /^--mirror "deb\.debian\.org" is not a URL/,
  ],
  [
    'a proxy without scheme',
    [...BASE, '--apt_proxy=proxy:3142'],
    {},
    /^--apt_proxy "proxy:3142" is not a proxy URL/,
  ],
  ['a missing keyring', [...BASE, '--keyring=/nope.gpg'], {}, /^--keyring "\/nope\.gpg" does not exist/],
  ['a missing cache directory', [...BASE, '--cachedir=/nope'], {}, /^--cachedir "\/nope" does not exist/],
  [
    'a cache setting that is no yes/no',
    [...BASE, '--cache=maybe'],
    {},
    /^--cache "maybe" is not a yes\/no value/,
  ],
  ['install=2', [...BASE, '--install=2'], {}, /^--install "2" is out of range/],
  ['hooks=5', [...BASE, '--hooks=5'], {}, /^--hooks "5" is out of range/],
  // storage and filesystems
  ['reiserfs', [...BASE, '--fs=reiserfs'], {}, /^--fs "reiserfs" is no longer supported/],
  ['an unknown filesystem', [...BASE, '--fs=ntfs'], {}, /^--fs "ntfs" is not one of/],
  ['--dir and --lvm together', [...BASE, '--lvm=vg0'], {}, /^--dir and --lvm both given/],
  [
    'no storage at all',
    ['--hostname=web1', '--dhcp'],
    {},
    /^no storage given: none of --dir, --lvm, --image-dev/,
  ],
  ['a thin pool without LVM', [...BASE, '--lvm_thin=pool'], {}, /^--lvm_thin needs --lvm/],
  [
    'a swap device without an image device',
    [...BASE, '--swap-dev=/dev/sdc'],
    {},
    /^--swap-dev needs --image-dev/,
  ],
  [
    'an image device without swap choice',
    ['--hostname=web1', '--dhcp', '--image-dev=/dev/sdb'],
    {},
    /^--image-dev needs --swap-dev or --noswap/,
  ],
  ['EVMS', ['--hostname=web1', '--dhcp', '--evms=lvm2/c'], {}, /^--evms "lvm2\/c" is no longer supported/],
  ['ZFS', ['--hostname=web1', '--dhcp', '--zpool=tank'], {}, /^--zpool "tank" is no longer supported/],
  [
    'a bad volume group name',
    ['--hostname=web1', '--dhcp', '--lvm=-vg'],
    {},
    /^--lvm "-vg" is not a volume group name/,
  ],
  [
    'qcow2 on LVM',
    ['--hostname=web1', '--dhcp', '--lvm=vg0', '--image-format=qcow2'],
    {},
    /^--image-format "qcow2" works only with --dir/,
  ],
  ['an unknown image allocation', [...BASE, '--image=thin'], {}, /^--image "thin" is not one of/],
  [
    'a bad disk device',
    [...BASE, '--disk_device=nvme0n1'],
    {},
    /^--disk_device "nvme0n1" is not a disk device/,
  ],
  [
    'a bad console device',
    [...BASE, '--serial_device=console'],
    {},
    /^--serial_device "console" is not a console device/,
  ],
  [
    'a config file that already exists',
    BASE,
    { 'etc/xen/web1.cfg': "name = 'web1'\n" },
    /^guest "web1": .*\/etc\/xen\/web1\.cfg already exists/,
  ],
  // boot and files
  ['a missing kernel', [...BASE, '--kernel=/boot/nope'], {}, /^--kernel "\/boot\/nope" does not exist/],
  [
    'a missing initrd',
    [...BASE, '--kernel=/boot/k', '--initrd=/boot/nope'],
    { 'boot/k': 'k' },
    /^--initrd "\/boot\/nope" does not exist/,
  ],
  [
    '--pygrub with --kernel',
    [...BASE, '--pygrub', '--kernel=/boot/k'],
    { 'boot/k': 'k' },
    /^--pygrub and --kernel both given/,
  ],
  ['--nopygrub without a kernel', [...BASE, '--nopygrub'], {}, /^--nopygrub turned off needs a host kernel/],
  ['an unknown guest type', [...BASE, '--type=xen'], {}, /^--type "xen" is not one of pv, pvh, hvm/],
  ['a missing template', [...BASE, '--template=nope.tmpl'], {}, /^--template "nope\.tmpl" does not exist/],
  ['a missing partitions file', [...BASE, '--partitions=nope'], {}, /^--partitions "nope" does not exist/],
  ['a missing --config file', [...BASE, '--config=nope.conf'], {}, /^--config "nope\.conf" does not exist/],
  [
    'a missing --conf-file',
    [...BASE, '--conf-file=/nope.conf'],
    {},
    /^--conf-file "\/nope\.conf" does not exist/,
  ],
  ['a missing role', [...BASE, '--role=nope'], {}, /^--role "nope" does not exist/],
  [
    'an extension with a slash',
    [...BASE, '--extension=../x'],
    {},
    /^--extension "\.\.\/x" is not a file name suffix/,
  ],
  // accounts
  [
    'a missing password file',
    [...BASE, '--password-file=/nope'],
    {},
    /^--password-file "\/nope" does not exist/,
  ],
  [
    'two password sources',
    [...BASE, '--password=x', '--password-file=/pw'],
    { pw: 'x\n' },
    /^--password and --password-file each set the root password/,
  ],
  [
    '--passwd with --password-stdin',
    [...BASE, '--passwd', '--password-stdin'],
    {},
    /^--passwd and --password-stdin each set/,
  ],
  ['a short generated password', [...BASE, '--genpass_len=4'], {}, /^--genpass_len "4" is out of range/],
  ['an unknown hash', [...BASE, '--hash_method=sha1'], {}, /^--hash_method "sha1" is not one of/],
  ['a missing SSH key', [...BASE, '--ssh-key=/nope.pub'], {}, /^--ssh-key "\/nope\.pub" does not exist/],
  ['a private SSH key', [...BASE, '--ssh-key=/k'], { k: PRIVATE }, /^--ssh-key ".*\/k" is a private key/],
  [
    'an SSH key file without keys',
    [...BASE, '--ssh-key=/k'],
    { k: 'hello\n' },
    /^--ssh-key ".*\/k" holds no public key/,
  ],
  ['a bad admin name', [...BASE, '--admins=Root'], {}, /^--admins "Root" is not a user name/],
  // --ip=auto
  ['--ip=auto without a pool', [...STATIC, '--ip=auto'], {}, /^--ip "auto" needs an address pool/],
  [
    '--ip=auto with every address used',
    [...STATIC, '--ip=auto'],
    { 'etc/xen-tools/ips.txt': '10.0.0.1: used\n' },
    /^--ip "auto": no free address left/,
  ],
  [
    '--ip=auto with a bad pool line',
    [...STATIC, '--ip=auto'],
    { 'etc/xen-tools/ips.txt': '10.0.0.1\ngarbage\n' },
    /ips\.txt:2: "garbage" is not an address or range/,
  ],
  // control characters (a newline in --dir forged run-log lines)
  [
    'a newline in --dir',
    ['--hostname=web1', '--dir=/srv/x\n[2026-01-01T00:00:00.000Z] forged', '--dhcp'],
    {},
    /^--dir "\/srv\/x\\n\[2026-01-01T00:00:00\.000Z\] forged" contains a control character/,
  ],
  [
    'an escape in --lvm',
    ['--hostname=web1', '--lvm=vg\x1b[2J', '--dhcp'],
    {},
    /^--lvm "vg\\x1b\[2J" contains/,
  ],
  [
    'a tab in --image-dev',
    [...BASE.slice(0, 1), '--dhcp', '--noswap', '--image-dev=/dev/sd\tb'],
    {},
    /^--image-dev "\/dev\/sd\\tb" contains/,
  ],
  [
    'a carriage return in --mirror',
    [...BASE, '--mirror=http://x/\rdebian'],
    {},
    /^--mirror "http:\/\/x\/\\rdebian" contains/,
  ],
  [
    'a control character in a conf file value',
    BASE,
    { [CONF]: 'kernel = /boot/vmlinuz\x07\n' },
    /xen-tools\.conf:1: kernel "\/boot\/vmlinuz\\x07" contains a control character/,
  ],
  [
    'a newline in the password, not shown',
    [...BASE, '--password=se\ncret'],
    {},
    /^--password contains a control character/,
  ],
  [
    'a --dir with a component over 255 bytes',
    ['--hostname=web1', `--dir=/srv/${'d'.repeat(256)}`, '--dhcp'],
    {},
    /^--dir "\/srv\/d{55}\.\.\." is too long for a path/,
  ],
  // conflicting options on one layer (xen-tools 4.9.2 picked one silently)
  [
    '--noswap with --swap',
    [...BASE, '--noswap', '--swap=512M'],
    {},
    /^--noswap and --swap "512M" both given/,
  ],
  ['--swap with --noswap', [...BASE, '--swap=1G', '--noswap'], {}, /^--noswap and --swap "1G" both given/],
  ['--ide with --scsi', [...BASE, '--ide', '--scsi'], {}, /^--ide and --scsi both given/],
  [
    '--ide with another --disk_device',
    [...BASE, '--ide', '--disk_device=sda'],
    {},
    /^--ide and --disk_device "sda" both given/,
  ],
  [
    '--randommac with --mac',
    [...BASE, '--randommac', '--mac=00:16:3e:00:00:01'],
    {},
    /^--mac "00:16:3e:00:00:01" and --randommac both given/,
  ],
  [
    '--noswap with --swap-dev',
    ['--hostname=web1', '--dhcp', '--image-dev=/dev/sdb', '--swap-dev=/dev/sdc', '--noswap'],
    {},
    /^--noswap and --swap-dev both given/,
  ],
  [
    'noswap and swap in one conf file',
    BASE,
    { [CONF]: 'swap = 1G\nnoswap = 1\n' },
    /xen-tools\.conf:2: noswap and .*xen-tools\.conf:1: swap "1G" both given/,
  ],
  [
    'ide and scsi in one --config file',
    [...BASE, '--config=g.conf'],
    { 'etc/xen-tools/g.conf': 'ide = 1\nscsi = 1\n' },
    /g\.conf:1: ide and .*g\.conf:2: scsi both given/,
  ],
  [
    '--genpass=1 with --passwd',
    [...BASE, '--genpass=1', '--passwd'],
    {},
    /^--genpass and --passwd both given/,
  ],
  [
    'genpass and password-file in one conf file',
    BASE,
    { [CONF]: 'genpass = 1\npassword-file = /pw\n', pw: 'x\n' },
    /xen-tools\.conf:1: genpass and .*xen-tools\.conf:2: password-file both given/,
  ],
  ['--boot with --install=0', [...BASE, '--boot', '--install=0'], {}, /^--boot and --install "0" both given/],
  [
    '--boot with install = 0 in the conf',
    [...BASE, '--boot'],
    { [CONF]: 'install = 0\n' },
    /^--boot and .*xen-tools\.conf:1: install "0" both given/,
  ],
  // --install=0 leaves the filesystem empty: nothing to put a password, key or account in
  [
    '--install=0 with --passwd',
    [...BASE, '--install=0', '--passwd'],
    {},
    /^--passwd and --install "0" both given/,
  ],
  [
    '--install=0 with --password-file',
    [...BASE, '--install=0', '--password-file=/pw'],
    { pw: 'x\n' },
    /^--password-file and --install "0" both given/,
  ],
  [
    '--install=0 with --ssh-key',
    [...BASE, '--install=0', '--ssh-key=/k.pub'],
    { 'k.pub': 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB x\n' },
    /^--ssh-key and --install "0" both given/,
  ],
  // the command line itself
  ['an unknown option', [...BASE, '--sizee=4G'], {}, /^unknown option "--sizee"/],
  ['an ambiguous option', [...BASE, '--i=1'], {}, /^option "--i" is ambiguous/],
  [
    'a value for a flag',
    ['--hostname=web1', '--dir=/srv', '--dhcp=1'],
    {},
    /^option "--dhcp" takes no value/,
  ],
  ['a missing value', [...BASE, '--hostname'], {}, /^option "--hostname" needs a value/],
  ['a stray argument', [...BASE, 'web1'], {}, /^unexpected argument "web1"/],
  ['a conf-only key as an option', [...BASE, '--ipfile=/x'], {}, /^unknown option "--ipfile"/],
  [
    'a root that does not exist',
    [...BASE, '--root=/nonexistent-xenkit-root'],
    {},
    /^--root "\/nonexistent-xenkit-root" is not a directory/,
  ],
  // conf files
  [
    'a bad size in xen-tools.conf',
    BASE,
    { [CONF]: 'size = 4X\n' },
    /xen-tools\.conf:1: size "4X" has an unknown unit/,
  ],
  [
    'a line without "=" in xen-tools.conf',
    BASE,
    { [CONF]: '# ok\ndir /home/xen\n' },
    /xen-tools\.conf:2: "dir \/home\/xen" is not a "key = value" line/,
  ],
  [
    'a bad memory in xen-tools.conf',
    BASE,
    { [CONF]: 'memory = lots\n' },
    /xen-tools\.conf:1: memory "lots" is not a size/,
  ],
  [
    'reiserfs in xen-tools.conf',
    BASE,
    { [CONF]: 'fs = reiserfs\n' },
    /xen-tools\.conf:1: fs "reiserfs" is no longer supported/,
  ],
  [
    'a bad boolean in xen-tools.conf',
    ['--hostname=web1', '--dir=/srv'],
    { [CONF]: 'dhcp = maybe\n' },
    /xen-tools\.conf:1: dhcp "maybe" is not a yes\/no value/,
  ],
  [
    "the 2009 sample's release",
    BASE,
    { [CONF]: 'dist = hardy\n' },
    /xen-tools\.conf:1: dist "hardy" is not a known release/,
  ],
  [
    "the 2009 sample's placeholder gateway",
    [...STATIC, '--ip=10.0.0.5'],
    { [CONF]: 'gateway = x.x.x.x\n' },
    /xen-tools\.conf:1: gateway "x\.x\.x\.x" is not an IP address/,
  ],
  [
    'rinse in xen-tools.conf',
    BASE,
    { [CONF]: 'install-method = rinse\n' },
    /xen-tools\.conf:1: install-method "rinse" is no longer supported/,
  ],
  [
    'zero vcpus in xen-tools.conf',
    BASE,
    { [CONF]: '\nvcpus = 0\n' },
    /xen-tools\.conf:2: vcpus "0" is out of range/,
  ],
  [
    'a key with a blank in xen-tools.conf',
    BASE,
    { [CONF]: 'foo bar = 1\n' },
    /xen-tools\.conf:1: "foo bar" is not a setting name/,
  ],
  [
    'a bad swap in a --config file',
    [...BASE, '--config=g.conf'],
    { 'etc/xen-tools/g.conf': 'swap = 1X\n' },
    /g\.conf:1: swap "1X" has an unknown unit/,
  ],
  [
    'a shell command as mkfs',
    BASE,
    { [CONF]: 'make_fs_ext4 = mkfs.ext4; rm -rf /\n' },
    /xen-tools\.conf:1: make_fs_ext4 "mkfs\.ext4; rm -rf \/" is not a plain command line/,
  ],
  [
    'a non-contiguous netmask in xen-tools.conf',
    [...STATIC, '--ip=10.0.0.5'],
    { [CONF]: 'netmask = 255.255.0.255\n' },
    /xen-tools\.conf:1: netmask "255\.255\.0\.255" is not a contiguous/,
  ],
  [
    'EVMS in xen-tools.conf',
    ['--hostname=web1', '--dhcp'],
    { [CONF]: 'evms = lvm2/c\n' },
    /xen-tools\.conf:1: evms "lvm2\/c" is no longer supported/,
  ],
  ['a bad MAC in xen-tools.conf', BASE, { [CONF]: 'mac = zz\n' }, /xen-tools\.conf:1: mac "zz" is not a MAC/],
  [
    'a bad hostname in xen-tools.conf',
    ['--dir=/srv', '--dhcp'],
    { [CONF]: 'hostname = ../etc\n' },
    /xen-tools\.conf:1: hostname "\.\.\/etc"/,
  ],
];

const roots: (() => void)[] = [];
afterAll(() => {
  for (const cleanup of roots.splice(0)) cleanup();
});

describe('xen-create-image refuses bad input', () => {
  it('has a table of at least 60 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(60);
  });

  it.each(CASES)('%s', async (_name, argv, files, message) => {
    const { root, cleanup } = makeRoot(files);
    roots.push(cleanup);
    const before = listTree(root);
    let thrown: unknown;
    try {
      await resolveCreateImage(['--root', root, ...argv], {}, { host: fakeHost, runShell: shell });
    } catch (error) {
      thrown = error;
    }
    expect(thrown, 'an error').toBeDefined();
    expect(exitCodeFor(thrown)).toBe(2);
    const errors = errorsOf(thrown);
    const match = errors.find((e) => message.test(e.message));
    expect(match?.message, errors.map((e) => e.message).join('\n')).toMatch(message);
    expect(match?.kind).toBe('usage');
    expect(match?.hint?.length ?? 0).toBeGreaterThan(5);
    expect(listTree(root)).toEqual(before);
  });

  it('reports every problem at once', async () => {
    const { root, cleanup } = makeRoot({ [CONF]: 'size = 4X\n' });
    roots.push(cleanup);
    const argv = [
      '--root',
      root,
      '--hostname=a b',
      '--dir=/srv',
      '--ip=1.2.3',
      '--fs=ntfs',
      '--vlan=0',
      '--memory=0',
    ];
    const errors = errorsOf(
      await resolveCreateImage(argv, {}, { host: fakeHost, runShell: shell }).catch((e: unknown) => e),
    );
    const inputs = errors.map((e) => e.message.split(' "')[0]);
    expect(inputs).toEqual(
      expect.arrayContaining(['--hostname', `${root}/${CONF}:1: size`, '--ip', '--fs', '--vlan', '--memory']),
    );
    expect(errors.every((e) => e.kind === 'usage' && e.hint)).toBe(true);
  });
});
