/** Sets up the fake `xl` (fixtures/xl) over a copy of recorded outputs, and reads back its calls. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { XlOptions } from '../../../src/tools/xl.js';
import { readCalls, writeReply } from '../../helpers/fake-replies.js';

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
      writeReply(dir, key, reply);
    },
    calls() {
      return readCalls(log);
    },
    cleanup() {
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}
