#!/bin/bash
# The machine's single-thread speed now: milliseconds of a fixed CPU-bound workload (integer
# arithmetic and writes over a 16 MiB array, in node, its start left out), median of 3. Lower is
# faster. The boot benches print it before their first boot and after their last: this machine's
# speed moved by 1.7x within a quarter of an hour, and every boot time and QEMU CPU second with it
# (bench/RESULTS.md, "Boot time, seventh pass"), so a figure is read together with the speed of
# its hour.
#
#   bench/lib/cpu-speed.sh        prints one integer (ms)
set -euo pipefail
for _ in 1 2 3; do
  node -e '
    const a = new Int32Array(1 << 22);
    const t = process.hrtime.bigint();
    let x = 1;
    for (let i = 0; i < 5e7; i++) { x = (x * 1103515245 + 12345) | 0; a[i & 0x3fffff] ^= x; }
    if (a[7] === 0.5) console.log(x);
    console.log(Math.round(Number(process.hrtime.bigint() - t) / 1e6));'
done | sort -n | sed -n 2p
