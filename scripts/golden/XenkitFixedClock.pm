# Pins Perl's localtime to one instant, so that the "created by xen-tools ... on DATE" line of
# xm.tmpl is the same on every run. Loaded with `perl -MXenkitFixedClock`; the epoch comes from
# XENKIT_FIXED_EPOCH (the caller also sets TZ).
package XenkitFixedClock;
use strict;
use warnings;

BEGIN {
    *CORE::GLOBAL::localtime = sub {
        return CORE::localtime( @_ ? $_[0] : $ENV{'XENKIT_FIXED_EPOCH'} );
    };
}

1;
