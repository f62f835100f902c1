import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decodeLz4Block,
  decodeLz4Legacy,
  LZ4_LEGACY_BLOCK,
} from '../../../src/hypervisors/qemu/lz4-legacy.js';
import { lz4LegacyStream, lz4LiteralBlock } from './pvh-elf-fixture.js';

const decode = (block: Buffer, room = 1024): string => {
  const out = Buffer.alloc(room);
  return out.subarray(0, decodeLz4Block(block, out)).toString('latin1');
};

async function decodeStream(stream: Buffer): Promise<Buffer> {
  const parts: Buffer[] = [];
  await decodeLz4Legacy(
    (offset, length) => stream.subarray(offset, offset + length),
    stream.length,
    (block) => {
      parts.push(Buffer.from(block));
    },
  );
  return Buffer.concat(parts);
}

describe('decodeLz4Block', () => {
  it('copies literals, with a length of 15 and more spelled out in extra bytes', () => {
    expect(decode(Buffer.from([0x50, ...Buffer.from('hello')]))).toBe('hello');
    const long = Buffer.alloc(300, 'x');
    expect(decode(lz4LiteralBlock(long))).toBe(long.toString('latin1'));
    expect(lz4LiteralBlock(long).subarray(0, 3)).toEqual(Buffer.from([0xf0, 0xff, 0x1e]));
  });

  it('repeats earlier output for a match, also when the match overlaps what it writes', () => {
    // "ab", then 6 bytes from 2 back (overlapping), then the literal "c".
    expect(decode(Buffer.from([0x22, 0x61, 0x62, 0x02, 0x00, 0x10, 0x63]))).toBe('ababababc');
    // "abcd", then 4 bytes from 4 back (no overlap), then "e".
    expect(decode(Buffer.from([0x40, 0x61, 0x62, 0x63, 0x64, 0x04, 0x00, 0x10, 0x65]))).toBe('abcdabcde');
    // A match length of 15 + 4 and more: token 0x1f, then 10 more (29 in all), one byte back.
    expect(decode(Buffer.from([0x1f, 0x7a, 0x01, 0x00, 0x0a, 0x10, 0x21]))).toBe(`${'z'.repeat(30)}!`);
  });

  it('refuses a block that refers before its start, runs past its end or out of room', () => {
    expect(() => decode(Buffer.from([0x10, 0x61, 0x00, 0x00]))).toThrow(/refers before/);
    expect(() => decode(Buffer.from([0x10, 0x61, 0x05, 0x00]))).toThrow(/refers before/);
    expect(() => decode(Buffer.from([0x50, 0x61]))).toThrow(/literals run past/);
    expect(() => decode(Buffer.from([0xf0, 0xff]))).toThrow(/length runs past/);
    expect(() => decode(Buffer.from([0x10, 0x61, 0x01]))).toThrow(/offset runs past/);
    expect(() => decode(Buffer.from([0x1f, 0x61, 0x01, 0x00, 0xff, 0x10]), 64)).toThrow(
      /more than its limit/,
    );
    expect(() => decode(lz4LiteralBlock(Buffer.alloc(100)), 50)).toThrow(/more than its limit/);
  });
});

describe('decodeLz4Legacy', () => {
  it('decodes block after block in order', async () => {
    const stream = lz4LegacyStream([
      lz4LiteralBlock(Buffer.from('first ')),
      lz4LiteralBlock(Buffer.from('second')),
    ]);
    expect((await decodeStream(stream)).toString()).toBe('first second');
  });

  it('refuses what is no legacy stream, and a stream cut short', async () => {
    await expect(decodeStream(Buffer.from('not lz4 at all'))).rejects.toThrow(/no legacy magic/);
    const stream = lz4LegacyStream([lz4LiteralBlock(Buffer.from('some data here'))]);
    await expect(decodeStream(stream.subarray(0, stream.length - 3))).rejects.toThrow(/past the stream/);
    const zero = Buffer.concat([stream.subarray(0, 4), Buffer.alloc(4)]);
    await expect(decodeStream(zero)).rejects.toThrow(/claims 0 bytes/);
  });

  it('stops once its signal has ended it', async () => {
    const stream = lz4LegacyStream([lz4LiteralBlock(Buffer.from('x'))]);
    const controller = new AbortController();
    controller.abort();
    await expect(
      decodeLz4Legacy(
        (o, l) => stream.subarray(o, o + l),
        stream.length,
        () => undefined,
        controller.signal,
      ),
    ).rejects.toThrow();
  });

  // The real encoder: what `lz4 -l` writes is what a kernel built with CONFIG_KERNEL_LZ4 carries.
  it('decodes what the lz4 tool writes in the legacy format, over more than one block', async () => {
    const text = Buffer.from('the quick brown fox jumps over the lazy dog; '.repeat(4000));
    const data = Buffer.concat([text, randomBytes(LZ4_LEGACY_BLOCK), text, Buffer.alloc(1 << 20)]);
    const lz4 = spawnSync('lz4', ['-l', '-c', '-q'], { input: data, maxBuffer: 64 << 20 });
    expect(lz4.error, 'the lz4 tool (apt-get install lz4)').toBeUndefined();
    expect(lz4.status).toBe(0);
    expect(lz4.stdout.length).toBeLessThan(data.length);
    expect((await decodeStream(lz4.stdout)).equals(data)).toBe(true);
  });
});
