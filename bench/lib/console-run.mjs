#!/usr/bin/env node
// Logs in on a guest's serial console socket (no TTY) and runs shell commands there.
//
//   node bench/lib/console-run.mjs SOCKET USER PASSWORD-FILE TIMEOUT-S COMMAND...
//
// Presses Enter until a `login:` prompt ends the output, logs in, then runs each COMMAND between
// unique markers and prints one JSON object per command: {"command", "status", "output"}.
// Exit 0 when it logged in (whatever the commands returned), 1 otherwise.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const [socketPath, user, passwordFile, timeoutText, ...commands] = process.argv.slice(2);
if (!socketPath || !user || !passwordFile || !timeoutText) {
  console.error('usage: console-run.mjs SOCKET USER PASSWORD-FILE TIMEOUT-S COMMAND...');
  process.exit(2);
}
const password = readFileSync(passwordFile, 'utf8').split('\n')[0];
const deadline = Date.now() + Number(timeoutText) * 1000;

const socket = net.createConnection(socketPath);
let text = '';
let closed = false;
socket.on('data', (chunk) => (text += chunk.toString('utf8')));
socket.on('close', () => (closed = true));
await new Promise((resolve, reject) => {
  socket.once('connect', resolve);
  socket.once('error', reject);
});

async function waitFor(pattern, ms, from) {
  const end = Math.min(Date.now() + ms, deadline);
  for (;;) {
    const match = text.slice(from).match(pattern);
    if (match) return match;
    if (Date.now() > end || closed) return undefined;
    await sleep(100);
  }
}

async function login() {
  for (;;) {
    const from = text.length;
    socket.write('\r');
    if (await waitFor(/login: *$/m, 5000, from)) break;
    if (Date.now() > deadline || closed) return false;
  }
  let from = text.length;
  socket.write(`${user}\r`);
  if (!(await waitFor(/Password: *$/m, 60_000, from))) return false;
  from = text.length;
  socket.write(`${password}\r`);
  if (!(await waitFor(/# $/, 120_000, from))) return false;
  return true;
}

if (!(await login())) {
  console.error(`console-run: no root shell on ${socketPath}; last output:\n${text.slice(-800)}`);
  process.exit(1);
}
let n = 0;
for (const command of ['dmesg -n 1', ...commands]) {
  const id = `${process.pid}-${++n}`;
  const from = text.length;
  socket.write(`echo "XK""BEGIN-${id}"; ${command}; echo "XK""END-${id} $?"\r`);
  const match = await waitFor(
    new RegExp(`XKBEGIN-${id}\\r?\\n([\\s\\S]*?)XKEND-${id} (\\d+)`),
    120_000,
    from,
  );
  if (n === 1) continue;
  console.log(
    JSON.stringify({
      command,
      status: match ? Number(match[2]) : null,
      output: match ? match[1].replace(/\r/g, '') : null,
    }),
  );
}
socket.end('exit\r');
socket.unref();
