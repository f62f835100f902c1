import { describe, expect, it } from 'vitest';
import { fingerprintPublicKey, parseFingerprint } from '../../src/tools/ssh-keygen.js';

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

describe('fingerprintPublicKey', () => {
  // Vectors checked against `ssh-keygen -l -E sha256 -f FILE.pub` (OpenSSH 9.2).
  it.each([
    [
      'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCf4H0q8UUaMMGxNvzevVj/jblSc/jFRsncp4mZo7Xn5JiZTp9p5QAFsUM3DaTHkwoHApq2keXhb7ssj5t4QSk0ZQqYHZeSMQ0ljrZdDglyOwg0kQ+MEy60u2HyIMoBJzs21IdqEIIocT2JUVI6Bl2ljegLt9aOTcsvQ7oT0DQ9dkvd8oInN6y1zrtnVjGdDhH8EvsGYcncGG5Z/A141yAnIJSDsVFMSn4p+jA7L661grBDVMWVkTnlWHCtstjD1YFZmPxUsU5oI8DPldGe8Wp9iYaPXvd0XP9Jn402jFm3PSjPv1ltLVkxpqLusxPsGXnt+lAG1Iu3F/n5FoZm3CLx a b',
      {
        bits: 2048,
        fingerprint: 'SHA256:GiW0LjJ0pllUPnf9ZFkX2taGd4xn84vrJZ58fd6yeog',
        comment: 'a b',
        type: 'RSA',
      },
    ],
    [
      'ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBEBVetB0sg5mvG3I8PFmGOnD8bmxgWi/SOU5ZKiMYTq2rXqH4Srr9ikyBuPyVFQB80zm34obhJiIoU10xcQiqK1CqEojdW3Tow5gu51FEgQfhgkcZDGbvuLpNNX+2BL+Zw== x',
      {
        bits: 384,
        fingerprint: 'SHA256:LUBEyyJPFJjTuwpLbffwCPWXK7KdTuTxCn/TncrHejY',
        comment: 'x',
        type: 'ECDSA',
      },
    ],
    [
      'ssh-dss AAAAB3NzaC1kc3MAAACBANDdfTg47QFrkYU3BuxkGPlkLmIjPCIh+ZyI1LRdHQh7Ki9tKrEummtnIctDJRWVmCs4vMClKOEUDtZ26pj16Zhxe39Db6LkK9Cj2pWd+jyua/fDI2z0boVWhOrNH2hhGEJw3HWn6R4A+CVjTmdrYDiLZgLXjSPZGQQLaSS7qqk/AAAAFQCu+ZbcSNZV+lHvvazYljhJztmUmwAAAIArUj9c7gow88eFzRhXcrBvOEPRkvA4xk7Rv1Go6EKiklMRorJ+0cPGMkXI8YzMWNN4Pu1kvNa8KkmSBQv1JiWHotuZf/ImC+PYdqdi6IS1MteQmRKFOOs3weXYVvQujWMJ7uYcf1jazSShKS2ZF+F2UFAhgJw5AfFRWirLwpqzygAAAIBP1uawsL6PPSob3PCRV96TUD9nlhLimiktnCNvfu9gZFokOiS40WMTHqIHptEUma0yM1Qwrc7foEsEfD7/VZ3LDIYauKSv24knB+uZrEL11ba/PEf2yJNm2nJPjoIVag2ZGy1d8pkwvkDTvsbOw8fuGwVTf0bio7m9uStDChVC5w== dsatest',
      {
        bits: 1024,
        fingerprint: 'SHA256:4DapuZ082SMu0tF0dnV+R2Gvx3HJSGrsL3ShpXQQw40',
        comment: 'dsatest',
        type: 'DSA',
      },
    ],
  ])('computes what ssh-keygen -l prints (%#)', (line, expected) => {
    expect(fingerprintPublicKey(line + '\n')).toEqual(expected);
  });

  it.each([
    ['ssh-dss AAAAB3NzaC1kc3M= old'],
    ['ssh-rsa AAAAB3NzaC1yc2E'],
    ['ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQ== mismatched'],
    ['garbage'],
  ])('refuses what is not a key it knows: %s', (line) => {
    expect(() => fingerprintPublicKey(line)).toThrow(/not an SSH public key/);
  });
});
