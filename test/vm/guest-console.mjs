#!/usr/bin/env node
/**
 * Runs in a nested Xen dom0 (plain JavaScript: the VM runs the host's node, which does not
 * read TypeScript): logs in as root on a Xen guest's console and runs commands there.
 *
 *   node guest-console.mjs DOMAIN PASSWORD-FILE TIMEOUT-S KEY=COMMAND...
 *
 * The console is the pty that xenconsoled made for the domain (its path is in xenstore), opened
 * directly, as `xl console` does. Presses Enter until the getty's `login:` prompt shows, logs in,
 * then prints `@@ KEY=OUTPUT` (output on one line) for each command and `@@ console.login=0`;
 * exits 1 with the last console lines on stderr when a step times out.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import tty from 'node:tty';

const [domain, passwordFile, timeoutText, ...commands] = process.argv.slice(2);
const password = fs.readFileSync(passwordFile, 'utf8').trim();
const deadline = Date.now() + Number(timeoutText) * 1000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const domid = execFileSync('xl', ['domid', domain], { encoding: 'utf8' }).trim();
const pts = execFileSync('xenstore-read', [`/local/domain/${domid}/console/tty`], {
  encoding: 'utf8',
}).trim();
const fd = fs.openSync(pts, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
const input = new tty.ReadStream(fd);
input.setRawMode(true);
let received = '';
input.on('data', (chunk) => (received += chunk.toString('utf8').replace(/\r/g, '')));
const send = (text) => fs.writeSync(fd, text);

function fail(why) {
  process.stderr.write(`guest-console ${domain}: ${why}; last output:\n${received.slice(-1500)}\n`);
  process.exit(1);
}

async function waitFor(pattern, from, limitMs = deadline - Date.now()) {
  const until = Math.min(deadline, Date.now() + limitMs);
  for (;;) {
    const match = received.slice(from).match(pattern);
    if (match) return match;
    if (Date.now() > until) return undefined;
    await sleep(100);
  }
}

// The getty prints its prompt again on Enter, below any kernel message that landed on it.
let atLogin = false;
while (!atLogin) {
  if (Date.now() > deadline) fail('no login prompt');
  const from = received.length;
  send('\r');
  atLogin = (await waitFor(/login: *$/m, from, 5000)) !== undefined;
}
let from = received.length;
send('root\r');
if (!(await waitFor(/Password: *$/m, from))) fail('no password prompt');
from = received.length;
send(`${password}\r`);
if (!(await waitFor(/# $/, from))) fail('no root shell prompt');
console.log('@@ console.login=0');

let n = 0;
for (const spec of ['quiet=dmesg -n 1', ...commands]) {
  const eq = spec.indexOf('=');
  const key = spec.slice(0, eq);
  n += 1;
  from = received.length;
  // "XK""BEGIN" echoes as typed but prints as XKBEGIN: only the output matches the markers.
  send(`echo "XK""BEGIN-${n}"; ${spec.slice(eq + 1)}; echo "XK""END-${n} $?"\r`);
  const match = await waitFor(new RegExp(`XKBEGIN-${n}\\n([\\s\\S]*?)XKEND-${n} (\\d+)`), from);
  if (!match) fail(`no output of ${key}`);
  if (key !== 'quiet') console.log(`@@ ${key}=${match[1].trim().split('\n').join(' ')}`);
}
send('exit\r');
input.destroy();
process.exit(0);
