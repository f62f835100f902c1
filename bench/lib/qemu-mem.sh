#!/bin/bash
# Sourced by the boot benches. rss_split PID MEM_MIB: "total_kb guest_ram_kb tcg_kb" from
# /proc/PID/smaps. The guest RAM block is the mapping of exactly the guest's memory size (rw-p);
# TCG's translation cache is the big writable and executable mapping (its size is -accel tcg's
# tb-size); what is left is QEMU itself (devices, libraries, heap).
rss_split() {
  awk -v ram_kb=$(($2 * 1024)) '
    /^[0-9a-f]+-[0-9a-f]+ / { perms = $2 }
    /^Size:/ { size = $2 }
    /^Rss:/ {
      total += $2
      if (size >= ram_kb && size <= ram_kb + 4096 && perms !~ /x/ && $2 > guest) guest = $2
      if (perms ~ /x/ && perms ~ /w/ && size >= 16384 && $2 > tcg) tcg = $2
    }
    END { print total, guest + 0, tcg + 0 }' "/proc/$1/smaps"
}
