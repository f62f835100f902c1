/** A snapshot manifest for one stored image, as backup create writes it (unit tests of the repository). */
import type { Manifest } from '../../src/backup/manifest.js';
import type { StoredImage } from '../../src/backup/store-image.js';

export interface TestManifestInput {
  id: string;
  guest: string;
  /** The image's target as the cfg names it. */
  file: string;
  stored: StoredImage;
  time: string;
  chunkSize: number;
  cfgText?: string;
}

export function testManifest(input: TestManifestInput): Manifest {
  const { id, guest, file, stored, time, chunkSize } = input;
  return {
    format: 'xenkit-backup-snapshot',
    version: 1,
    id,
    guest,
    time,
    xenkitVersion: 'test',
    chunkSize,
    cfgPath: `/etc/xen/${guest}.cfg`,
    cfgText: input.cfgText ?? `name = '${guest}'\n`,
    disks: [
      {
        target: file,
        vdev: 'xvda2',
        format: 'raw',
        size: stored.size,
        digest: stored.digest,
        chunks: stored.chunks,
      },
    ],
    stats: {
      logicalBytes: stored.size,
      readBytes: stored.readBytes,
      newChunks: stored.newChunks,
      newBytes: stored.newBytes,
      cacheHits: 0,
      ms: 0,
    },
  };
}
