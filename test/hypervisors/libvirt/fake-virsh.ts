/**
 * A fake `virsh` for unit tests: it logs each call and answers from a directory of replies keyed
 * by its arguments after `--connect URI` (joined by "_"; else by the subcommand alone), with
 * recorded outputs of virsh 9.0 (test/tools/fixtures/virsh-9.0) to start from.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { VirshOptions } from '../../../src/tools/virsh.js';
import { readCalls, writeReply } from '../../helpers/fake-replies.js';

const RECORDED = path.join(import.meta.dirname, '../../tools/fixtures/virsh-9.0');

const SCRIPT = `#!/bin/sh
echo "$*" >> "$FAKE_VIRSH_LOG"
[ "$1" = --connect ] && shift 2
key=$(printf '%s' "$*" | tr ' /' '__')
d="$FAKE_VIRSH_DIR"
[ -e "$d/$key.out" ] || [ -e "$d/$key.err" ] || [ -e "$d/$key.rc" ] || key="$1"
[ -f "$d/$key.err" ] && cat "$d/$key.err" >&2
[ -f "$d/$key.out" ] && cat "$d/$key.out"
[ -f "$d/$key.rc" ] && exit "$(cat "$d/$key.rc")"
exit 0
`;

export interface FakeVirsh {
  /** Options for the virsh wrapper (URI qemu:///system), the fake first on PATH. */
  virsh: VirshOptions;
  /** Sets the reply to `virsh KEY` (KEY: the arguments joined by "_", or the subcommand). */
  reply(key: string, reply: { out?: string; err?: string; rc?: number }): void;
  /** The argument lists virsh was called with, in order. */
  calls(): string[];
  cleanup(): void;
}

/** A fake virsh answering `list`, `domstats`, `nodeinfo`, `schedinfo` and `capabilities` as virsh 9.0 did. */
export function makeFakeVirsh(): FakeVirsh {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-fake-virsh-'));
  const bin = path.join(tmp, 'bin');
  const dir = path.join(tmp, 'replies');
  fs.mkdirSync(bin);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(bin, 'virsh'), SCRIPT, { mode: 0o755 });
  fs.copyFileSync(path.join(RECORDED, 'nodeinfo.out'), path.join(dir, 'nodeinfo.out'));
  fs.copyFileSync(path.join(RECORDED, 'capabilities.xml'), path.join(dir, 'capabilities.out'));
  const log = path.join(tmp, 'calls.log');
  const fake: FakeVirsh = {
    virsh: {
      uri: 'qemu:///system',
      env: { PATH: `${bin}:${process.env.PATH ?? ''}`, FAKE_VIRSH_DIR: dir, FAKE_VIRSH_LOG: log },
    },
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
  return fake;
}

/** `virsh list` output for rows of [id or '-', name, state]. */
export function listOutput(rows: [string, string, string][]): string {
  return [
    ' Id   Name    State',
    '------------------------',
    ...rows.map((r) => ` ${r[0]}    ${r[1]}   ${r[2]}`),
    '',
    '',
  ].join('\n');
}
