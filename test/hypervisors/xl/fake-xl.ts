/** Sets up the fake `xl` (fixtures/xl) over a copy of recorded outputs, and reads back its calls. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { XlOptions } from '../../../src/tools/xl.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures');

export interface FakeXl {
  /** Options for the xl wrapper: the fake first on PATH. */
  xl: XlOptions;
  /** The directory of replies (a copy: tests may change it). */
  dir: string;
  /** Sets the reply to `xl KEY` (KEY as the fake builds it: args joined by "_"). */
  reply(key: string, reply: { out?: string; err?: string; rc?: number }): void;
  /** The argument lists xl was called with, in order. */
  calls(): string[];
  cleanup(): void;
}

/** A fake xl replaying the recorded outputs of `fixtures/<set>`. */
export function makeFakeXl(set = 'xen-4.17'): FakeXl {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-fake-xl-'));
  const dir = path.join(tmp, 'replies');
  fs.cpSync(path.join(FIXTURES, set), dir, { recursive: true });
  const log = path.join(tmp, 'calls.log');
  return {
    xl: { env: { PATH: `${FIXTURES}:${process.env.PATH ?? ''}`, FAKE_XL_DIR: dir, FAKE_XL_LOG: log } },
    dir,
    reply(key, reply) {
      for (const ext of ['out', 'err', 'rc'] as const)
        fs.rmSync(path.join(dir, `${key}.${ext}`), { force: true });
      if (reply.out !== undefined) fs.writeFileSync(path.join(dir, `${key}.out`), reply.out);
      if (reply.err !== undefined) fs.writeFileSync(path.join(dir, `${key}.err`), reply.err);
      if (reply.rc !== undefined) fs.writeFileSync(path.join(dir, `${key}.rc`), String(reply.rc));
    },
    calls() {
      return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trimEnd().split('\n') : [];
    },
    cleanup() {
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}
