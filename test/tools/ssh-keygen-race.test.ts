import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAlive } from '../../src/plan/process-identity.js';
import { keygenRacers, MAX_KEYGEN_RACERS, raceKeyPair } from '../../src/tools/ssh-keygen.js';
import { makeTempDir, removeDir, withPathFirst, writeFakeTool } from '../helpers/storage-fixtures.js';

// A fake ssh-keygen: racer N (its -f file ends in .raceN, a lone call has no suffix) records its
// pid, then does what `behaviour.N` in the key's directory says: `fast` writes the key pair,
// `slow` sleeps until killed (exec, so the pid is the sleeper's), `fail` exits 1. A `fast` racer
// first waits (up to 5 s) until every racer has started, so each has a pid to check.
const FAKE = `
f=""; while [ $# -gt 0 ]; do [ "$1" = -f ] && f=$2; shift; done
d=$(dirname "$f"); case "$f" in *.race*) n=\${f##*.race} ;; *) n=solo ;; esac
echo $$ > "$d/pid.$n"
case "$(cat "$d/behaviour.$n")" in
  slow) exec sleep 60 ;;
  fail) echo "keygen $n failed" >&2; exit 1 ;;
  fast) i=0; for b in "$d"/behaviour.[0-9]*; do
          [ -e "$b" ] || continue
          while [ ! -e "$d/pid.\${b##*.}" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
        done ;;
esac
echo "PRIVATE $n" > "$f"; echo "ssh-rsa AAAA $n" > "$f.pub"`;

let bin = '';
let dir = '';
beforeEach(() => {
  bin = makeTempDir('fake-keygen-bin');
  dir = makeTempDir('fake-keygen-keys');
  writeFakeTool(bin, 'ssh-keygen', FAKE);
});
afterEach(() => {
  removeDir(bin);
  removeDir(dir);
});

function behave(...racers: string[]): void {
  racers.forEach((what, index) => fs.writeFileSync(path.join(dir, `behaviour.${index}`), what));
}
function pidOf(racer: number | 'solo'): number {
  return Number(fs.readFileSync(path.join(dir, `pid.${racer}`), 'utf8'));
}
/** What is left in the key's directory besides the fake's own bookkeeping. */
function keyFiles(): string[] {
  return fs
    .readdirSync(dir)
    .filter((name) => !/^(pid|behaviour)\./.test(name))
    .sort();
}

describe('raceKeyPair', () => {
  const key = (): string => path.join(dir, 'ssh_host_rsa_key');

  it('keeps the first key made, and kills the racer still searching', async () => {
    behave('slow', 'fast');
    await withPathFirst(bin, () => raceKeyPair('rsa', key(), 'root@web1', 2));
    expect(fs.readFileSync(key(), 'utf8')).toBe('PRIVATE 1\n');
    expect(fs.readFileSync(`${key()}.pub`, 'utf8')).toBe('ssh-rsa AAAA 1\n');
    expect(keyFiles()).toEqual(['ssh_host_rsa_key', 'ssh_host_rsa_key.pub']);
    expect(isAlive(pidOf(0))).toBe(false);
  });

  it('takes the key of a racer that finished when another failed', async () => {
    behave('fail', 'fast', 'slow');
    await withPathFirst(bin, () => raceKeyPair('rsa', key(), 'root@web1', 3));
    expect(fs.readFileSync(key(), 'utf8')).toBe('PRIVATE 1\n');
    expect(keyFiles()).toEqual(['ssh_host_rsa_key', 'ssh_host_rsa_key.pub']);
    expect(isAlive(pidOf(2))).toBe(false);
  });

  it('fails with the first failure when every racer failed, leaving no file', async () => {
    behave('fail', 'fail');
    await expect(withPathFirst(bin, () => raceKeyPair('rsa', key(), 'root@web1', 2))).rejects.toMatchObject({
      code: 'E_EXEC',
      message: expect.stringMatching(/ssh-keygen exited with status 1: keygen [01] failed/),
    });
    expect(keyFiles()).toEqual([]);
  });

  it('stops every racer when the caller cancels, leaving no file', async () => {
    behave('slow', 'slow');
    const stop = new AbortController();
    const race = withPathFirst(bin, () => raceKeyPair('rsa', key(), 'root@web1', 2, { signal: stop.signal }));
    // Cancel once both racers are running.
    while (!fs.existsSync(path.join(dir, 'pid.0')) || !fs.existsSync(path.join(dir, 'pid.1'))) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    stop.abort();
    await expect(race).rejects.toMatchObject({ code: 'E_CANCELLED' });
    expect(isAlive(pidOf(0)) || isAlive(pidOf(1))).toBe(false);
    expect(keyFiles()).toEqual([]);
  });

  it('runs one ssh-keygen straight into the file with one racer', async () => {
    fs.writeFileSync(path.join(dir, 'behaviour.solo'), 'fast');
    await withPathFirst(bin, () => raceKeyPair('ed25519', key(), 'root@web1', 1));
    expect(fs.readFileSync(key(), 'utf8')).toBe('PRIVATE solo\n');
    expect(keyFiles()).toEqual(['ssh_host_rsa_key', 'ssh_host_rsa_key.pub']);
  });
});

describe('keygenRacers', () => {
  it.each([
    [1, 0, 1],
    [2, 0.2, 2],
    [2, 0.6, 1],
    [2, 7.5, 1],
    [3, 0.4, 3],
    [64, 1, MAX_KEYGEN_RACERS],
    [0, 0, 1],
  ])('with %d CPUs at load %d races %d keygens', (cpus, load, racers) => {
    expect(keygenRacers(cpus, load)).toBe(racers);
  });
});
