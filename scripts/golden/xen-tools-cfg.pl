#!/usr/bin/perl
#
# Renders the domain config that the REAL xen-tools 4.9.2 writes for one option set.
#
#   perl scripts/golden/xen-tools-cfg.pl OPTIONS.json > NAME.cfg
#
# OPTIONS.json holds xen-create-image command-line options ({"hostname": "web1", "ip":
# ["192.0.2.10"], "lvm": "vg0", ...}). This script fills %CONFIG the way xen-create-image does
# for them (its defaults, its partition layout, its image paths, its MAC derivation: the real
# generateMACAddress sub, extracted from /usr/bin/xen-create-image), exports it to a clean
# environment the way exportEnvironment() does, and runs the real /usr/bin/xt-create-xen-config
# with --output in a temporary directory. The clock is pinned (XenkitFixedClock.pm) so that the
# "created ... on DATE" line is reproducible. Nothing touches the host: no images, no users.
use strict;
use warnings;
use JSON::PP;
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use Digest::MD5 qw(md5_hex);

my $XEN_CREATE_IMAGE = '/usr/bin/xen-create-image';
my $XT_CREATE_XEN_CONFIG = '/usr/bin/xt-create-xen-config';
our $FIXED_EPOCH = 1234567890;    # Fri Feb 13 23:31:30 2009 UTC

sub slurp { my ($f) = @_; open( my $fh, '<', $f ) or die "$f: $!\n"; local $/; return <$fh>; }

my $file = shift @ARGV or die "usage: $0 OPTIONS.json\n";
my $opts = decode_json( slurp($file) );
die "$file: the admins option would create users on this host; not supported\n" if exists $opts->{'admins'};

# xen-create-image's defaults (setupDefaultOptions) for the keys the template and
# xt-create-xen-config read.
my %CONFIG = ( memory => '96Mb', size => '2000Mb', swap => '128M', vcpus => '1', dist => 'stable',
    kernel => '', initrd => '', disk_device => 'xvda', fs => 'ext3', image => 'sparse', dir => '' );
for my $key ( keys %$opts ) {
    my $value = $opts->{$key};
    $value = $value ? 1 : 0 if JSON::PP::is_bool($value);
    $CONFIG{$key} = $value;
}
$CONFIG{'ip'} = [ $CONFIG{'ip'} ] if defined $CONFIG{'ip'} && ref( $CONFIG{'ip'} ) ne 'ARRAY';

# The MAC: xen-create-image's own generateMACAddress, evaluated over this %CONFIG.
if ( !$CONFIG{'mac'} ) {
    my $source = slurp($XEN_CREATE_IMAGE);
    $source =~ /^(sub generateMACAddress\n\{.*?^\})/ms or die "generateMACAddress not found\n";
    eval "$1; 1" or die $@;
    $CONFIG{'mac'} = generateMACAddress();
}

# The partition layout of populatePartitionsData / usePhysicalDevice, with the image paths of
# createLoopbackImages (file:), createLVMBits (phy:/dev/VG/HOST-NAME) and usePhysicalDevice.
my @PARTITIONS;
my $options = $CONFIG{'fs'} eq 'xfs' ? 'defaults' : 'errors=remount-ro';
if ( $CONFIG{'image-dev'} ) {
    push @PARTITIONS, { name => 'swap', size => '', type => 'swap', mountpoint => '', options => '',
        imagetype => 'phy:', image => $CONFIG{'swap-dev'} } if $CONFIG{'swap-dev'} && !$CONFIG{'noswap'};
    push @PARTITIONS, { name => 'disk', size => '', type => $CONFIG{'fs'}, mountpoint => '/',
        options => $options, imagetype => 'phy:', image => $CONFIG{'image-dev'} };
} else {
    push @PARTITIONS, { name => 'swap', size => $CONFIG{'swap'}, type => 'swap', mountpoint => '',
        options => '' } unless $CONFIG{'noswap'};
    push @PARTITIONS, { name => 'disk', size => $CONFIG{'size'}, type => $CONFIG{'fs'},
        mountpoint => '/', options => $options };
    for my $p (@PARTITIONS) {
        if ( $CONFIG{'lvm'} ) {
            $p->{'imagetype'} = 'phy:';
            $p->{'image'} = "/dev/$CONFIG{'lvm'}/$CONFIG{'hostname'}-$p->{'name'}";
        } else {
            $p->{'imagetype'} = 'file:';
            $p->{'image'} = "$CONFIG{'dir'}/domains/$CONFIG{'hostname'}/$p->{'name'}.img";
        }
    }
}
$CONFIG{'NUMPARTITIONS'} = scalar @PARTITIONS;
for my $i ( 0 .. $#PARTITIONS ) {
    my $p = $PARTITIONS[$i];
    $CONFIG{ 'PARTITION' . ( $i + 1 ) } = join ':', map { $p->{$_} } qw(name size type mountpoint options imagetype image);
}

# exportEnvironment(): every defined key, '-' turned into '_'; plus runXenConfigCreation's `ips`
# (each address followed by a space). The array `ip` itself would be exported as "ARRAY(0x...)",
# which no template can use; it is left out.
my %env = ( PATH => '/usr/sbin:/usr/bin:/sbin:/bin', TZ => 'UTC', XENKIT_FIXED_EPOCH => $FIXED_EPOCH );
for my $key ( keys %CONFIG ) {
    next if $key eq 'ip' || !defined $CONFIG{$key};
    ( my $envkey = $key ) =~ s/-/_/g;
    $env{$envkey} = $CONFIG{$key};
}
$env{'ips'} = join( '', map {"$_ "} @{ $CONFIG{'ip'} || [] } );

my $out = tempdir( CLEANUP => 1 );
%ENV = %env;
my @command = ( $^X, '-w', '-I' . dirname(__FILE__), '-MXenkitFixedClock', $XT_CREATE_XEN_CONFIG,
    "--output=$out", '--extension=.cfg' );
push @command, "--template=$opts->{'template'}" if $opts->{'template'};
system(@command) == 0 or die "xt-create-xen-config failed: $?\n";
print slurp("$out/$CONFIG{'hostname'}.cfg");
