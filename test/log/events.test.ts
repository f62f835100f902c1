import { describe, expect, it } from 'vitest';
import { formatEvent, type LogEvent } from '../../src/log/events.js';

describe('formatEvent', () => {
  it.each<[LogEvent, string]>([
    [
      { type: 'output', command: '/usr/bin/mmdebstrap', stream: 'stderr', line: 'I: extracting' },
      '! mmdebstrap| I: extracting',
    ],
    [
      { type: 'output', command: 'debootstrap', stream: 'stdout', line: 'I: Retrieving' },
      '  debootstrap| I: Retrieving',
    ],
  ])('writes a streamed output line with its program name: %j', (event, text) => {
    expect(formatEvent(event)).toBe(text);
  });

  it('does not repeat streamed output under the command line', () => {
    const event: LogEvent = {
      type: 'exec',
      argv: ['mmdebstrap', '--variant=apt'],
      exitCode: 0,
      durationMs: 80_000,
      stdout: '',
      stderr: 'I: success in 80 seconds\n',
      streamed: true,
    };
    expect(formatEvent(event)).toBe('$ mmdebstrap --variant=apt  # exit 0, 80000 ms, output above');
  });

  it('still writes the output tail of a command that was not streamed', () => {
    const event: LogEvent = {
      type: 'exec',
      argv: ['mkfs.ext4'],
      exitCode: 1,
      durationMs: 5,
      stdout: '',
      stderr: 'no space\n',
    };
    expect(formatEvent(event)).toBe('$ mkfs.ext4  # exit 1, 5 ms\n! no space');
  });
});
