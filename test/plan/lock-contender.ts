/**
 * One contender of the lock race in lock-file.test.ts: waits for the start file, then ROUNDS
 * times takes the lock (asking again at once while it is held, to collide as often as possible),
 * proves it is alone inside (an O_EXCL marker), and dies holding it: its pid in the lock is
 * replaced by a dead one, so every next holder has to take over a stale lock.
 * argv: LOCK START LOG DEADPID ROUNDS
 */
import fs from 'node:fs';
import { setImmediate as yieldNow, setTimeout as sleep } from 'node:timers/promises';
import { acquireLock } from '../../src/plan/lock-file.js';

const [file = '', start = '', log = '', deadPid = '', rounds = '1'] = process.argv.slice(2);
const inside = `${file}.inside`;
while (!fs.existsSync(start)) await sleep(2);
for (let round = 0; round < Number(rounds); round++) {
  for (;;) {
    try {
      await acquireLock(file, 'the contested lock');
      break;
    } catch (error) {
      if ((error as { code?: string }).code !== 'E_LOCKED') throw error;
      await yieldNow();
    }
  }
  try {
    fs.writeFileSync(inside, `${process.pid}\n`, { flag: 'wx' });
  } catch {
    fs.appendFileSync(log, `overlap ${process.pid}\n`);
  }
  await sleep(1);
  fs.rmSync(inside, { force: true });
  fs.appendFileSync(log, `held ${process.pid}\n`);
  // Dies as a crashed holder would: the lock stays, naming a process that is gone. (It holds the
  // lock while doing so, so its `.dying` name is its own.)
  fs.writeFileSync(`${file}.dying`, `${deadPid}\n`);
  fs.renameSync(`${file}.dying`, file);
}
