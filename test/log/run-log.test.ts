import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { RunLog } from '../../src/log/run-log.js';

describe('RunLog', () => {
  it('writes nothing until the first event', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-log-'));
    onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
    const log = new RunLog(path.join(dir, 'sub', 'g.log'));
    log.close();
    expect(fs.existsSync(path.join(dir, 'sub'))).toBe(false);
  });

  it('redacts registered secrets from every event, mode 0600', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-log-'));
    onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'g.log');
    const log = new RunLog(file);
    log.addSecret('s3cr3t-pw');
    log.sink({ type: 'info', message: 'password is s3cr3t-pw' });
    log.sink({
      type: 'exec',
      argv: ['x', 's3cr3t-pw'],
      exitCode: 0,
      durationMs: 1,
      stdout: 's3cr3t-pw',
      stderr: '',
    });
    log.close();
    const text = fs.readFileSync(file, 'utf8');
    expect(text).not.toContain('s3cr3t-pw');
    expect(text.match(/\*\*\*\*\*\*\*\*/g)).toHaveLength(3);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(log.didCreate).toBe(true);
  });

  it('makes control characters visible so no value can forge a line of its own', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-log-'));
    onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'g.log');
    const log = new RunLog(file);
    const forged = '\n[2026-01-01T00:00:00.000Z] == Guest created';
    log.sink({ type: 'info', message: `make /srv/x${forged}` });
    log.sink({ type: 'step-start', id: 's', title: `Make the disk /srv/x${forged}\r\u001b[2J` });
    log.sink({
      type: 'exec',
      argv: ['cp', `/srv/x${forged}`],
      exitCode: 1,
      durationMs: 1,
      stdout: '',
      stderr: `a\tb${forged}`,
    });
    log.sink({ type: 'output', command: 'mkfs', stream: 'stdout', line: `x${forged}` });
    log.close();
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    // Every entry starts with its own timestamp; every continuation line is indented.
    expect(lines.filter((l) => l.startsWith('['))).toHaveLength(4);
    expect(lines.every((l) => /^\[\d{4}-\d\d-\d\dT[\d:.]+Z\] /.test(l) || /^[ !]/.test(l))).toBe(true);
    expect(lines.some((l) => l.startsWith('[2026-01-01T00:00:00.000Z]'))).toBe(false);
    expect(lines.join('\n')).toContain(
      'Make the disk /srv/x\\n[2026-01-01T00:00:00.000Z] == Guest created\\r\\x1b[2J',
    );
    expect(lines.join('\n')).toContain('! a\tb');
  });
});
