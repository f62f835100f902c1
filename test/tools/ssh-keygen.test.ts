import { describe, expect, it } from 'vitest';
import { parseFingerprint } from '../../src/tools/ssh-keygen.js';

describe('parseFingerprint', () => {
  it.each([
    [
      '256 SHA256:uR3cI3v0r2kqz2e6oQ2V0cFh7Hk5mXb0JbYc3n9mP1Q root@web1 (ED25519)',
      256,
      'ED25519',
      'root@web1',
    ],
    ['3072 SHA256:abcDEF+/xyz root@web1.example.org (RSA)', 3072, 'RSA', 'root@web1.example.org'],
    ['256 SHA256:abc no comment (ECDSA)', 256, 'ECDSA', 'no comment'],
  ])('reads %j', (line, bits, type, comment) => {
    expect(parseFingerprint(line)).toMatchObject({
      bits,
      type,
      comment,
      fingerprint: expect.stringMatching(/^SHA256:/),
    });
  });

  it('refuses a line that is not a fingerprint', () => {
    expect(() => parseFingerprint('ssh-keygen: no such file')).toThrow(/cannot read ssh-keygen fingerprint/);
  });
});
