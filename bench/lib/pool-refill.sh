# Sourced by the benches. create-image and clone start a niced background refill of the host-key
# pool when they end (`xenkit cache host-keys fill --background --root ROOT`), which writes into
# ROOT/var/cache/xenkit for a few seconds more. A bench waits for the refills under its scratch
# directory before it removes the directory (else `rm -rf` races the filler) and before the next
# timed run (else the filler competes with it); after 120 s it stops them (they are its own).
wait_pool_refills() {
  local under=$1 i=0
  while pgrep -f -- "host-keys fill --background --root $under" >/dev/null; do
    i=$((i + 1))
    if [ "$i" -gt 600 ]; then pkill -f -- "host-keys fill --background --root $under" || true; sleep 0.5; return 0; fi
    sleep 0.2
  done
}
