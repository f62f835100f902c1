#!/usr/bin/env node
// Stamps each line of a guest's console log with the time it appeared, until `login:` shows.
//
//   node bench/lib/console-timeline.mjs LOGFILE T0-EPOCH-MS TIMEOUT-S [QEMU-PIDFILE]
//
// Polls LOGFILE (QEMU's chardev logfile) every 20 ms and prints one line per console line:
// "SECONDS<TAB>TEXT", seconds since T0 (the moment `xm create` was started). Stops at the first
// `login: ` (exit 0), at the timeout or when the QEMU of QEMU-PIDFILE is gone (exit 1).
// The last line printed is "SECONDS<TAB>#bytes N lines M": how much went through the console.
import { Buffer } from 'node:buffer';
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const [logFile, t0Text, timeoutText, pidfile] = process.argv.slice(2);
if (!logFile || !t0Text || !timeoutText) {
  console.error('usage: console-timeline.mjs LOGFILE T0-EPOCH-MS TIMEOUT-S [QEMU-PIDFILE]');
  process.exit(2);
}
const t0 = Number(t0Text);
const deadline = Date.now() + Number(timeoutText) * 1000;
const stamp = () => ((Date.now() - t0) / 1000).toFixed(2);
// The pidfile is written when QEMU has daemonized; gone later means the guest's QEMU is gone.
const alive = () => {
  if (!pidfile) return true;
  if (!existsSync(pidfile)) return Date.now() - t0 < 10_000;
  return existsSync(`/proc/${readFileSync(pidfile, 'utf8').trim()}`);
};

let offset = 0;
let partial = '';
let bytes = 0;
let lines = 0;
const buffer = Buffer.alloc(1 << 16);
for (;;) {
  // Opened afresh each time: the file may be created (or replaced) after QEMU starts.
  if (existsSync(logFile)) {
    const fd = openSync(logFile, 'r');
    let n;
    while ((n = readSync(fd, buffer, 0, buffer.length, offset)) > 0) {
      offset += n;
      bytes += n;
      partial += buffer.subarray(0, n).toString('latin1');
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      const now = stamp();
      for (const line of parts) {
        lines++;
        // Carriage returns and the escape character of terminal sequences: noise in a timeline.
        console.log(`${now}\t${line.replaceAll('\r', '').replaceAll('\u001b', '')}`);
      }
    }
    closeSync(fd);
    if (/login: *$/.test(partial)) {
      console.log(`${stamp()}\t${partial}`);
      console.log(`${stamp()}\t#bytes ${bytes} lines ${lines}`);
      process.exit(0);
    }
  }
  if (Date.now() > deadline || !alive()) {
    console.log(`${stamp()}\t#bytes ${bytes} lines ${lines} (no login)`);
    process.exit(1);
  }
  await sleep(20);
}
