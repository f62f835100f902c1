import { describe, expect, it } from 'vitest';
import { LineTail } from '../../src/tools/line-tail.js';

function collect(limit = 100): { tail: LineTail; lines: string[] } {
  const lines: string[] = [];
  return { tail: new LineTail(limit, (line) => lines.push(line)), lines };
}

describe('LineTail', () => {
  it('passes on whole lines however the chunks split them, without their line endings', () => {
    const { tail, lines } = collect();
    for (const chunk of ['Get:1 a', 'b\nSetting up x\r', '\nlast']) tail.push(Buffer.from(chunk));
    expect(lines).toEqual(['Get:1 ab', 'Setting up x']);
    tail.end();
    expect(lines).toEqual(['Get:1 ab', 'Setting up x', 'last']);
  });

  it('decodes a UTF-8 character split between two chunks', () => {
    const { tail, lines } = collect();
    const bytes = Buffer.from('symlink → /lib\n');
    const cut = bytes.indexOf(0x86); // the middle of the arrow's three bytes
    tail.push(bytes.subarray(0, cut));
    tail.push(bytes.subarray(cut));
    expect(lines).toEqual(['symlink → /lib']);
  });

  it('keeps only the last `limit` characters however much went through', () => {
    const { tail, lines } = collect(50);
    for (let i = 0; i < 10_000; i++) tail.push(`line ${i}\n`);
    tail.end();
    expect(lines).toHaveLength(10_000);
    expect(tail.text).toHaveLength(50);
    expect(tail.text.endsWith('line 9999\n')).toBe(true);
    expect(tail.total).toBe(lines.reduce((n, l) => n + l.length + 1, 0));
  });

  it('passes on a line that never ends in pieces instead of holding all of it', () => {
    const { tail, lines } = collect();
    tail.push('x'.repeat(70 * 1024));
    expect(lines).toEqual(['x'.repeat(70 * 1024)]);
    tail.end();
    expect(lines).toHaveLength(1);
  });
});
