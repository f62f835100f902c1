import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunLog } from '../../src/log/run-log.js';

describe('RunLog', () => {
  it('writes nothing until the first event', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-log-'));
    const log = new RunLog(path.join(dir, 'sub', 'g.log'));
    log.close();
    expect(fs.existsSync(path.join(dir, 'sub'))).toBe(false);
  });

  it('redacts registered secrets from every event, mode 0600', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-log-'));
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
});
