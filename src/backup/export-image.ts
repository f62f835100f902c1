/**
 * Writes one disk of a snapshot as a plain raw image, whole or cut into pieces of a fixed size
 * (`disk.img.000`, `disk.img.001`, ...; `cat` joins them back bit for bit). Holes stay holes in
 * every piece. The bytes are checked on the way (each chunk against its id, the chunk table
 * against the manifest's digest) and hashed as written: SHA-256 of each piece and of the whole
 * image, holes included, for a SHA256SUMS file that needs no xenkit to check.
 */
import { createHash, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { ManifestDisk } from './manifest.js';
import type { Repository } from './repository.js';
import { forEachDataBlock, readDiskChunks } from './restore-image.js';

export interface ExportedPiece {
  index: number;
  size: number;
  sha256: string;
}

export interface ExportedImage {
  /** SHA-256 of the whole image (of the pieces joined). */
  sha256: string;
  pieces: ExportedPiece[];
  writtenBytes: number;
}

export interface ExportImageOptions {
  /** Bytes per piece; undefined writes one piece, the whole image. */
  pieceSize?: number | undefined;
  /** Opens (creates) piece `index`, empty. */
  openPiece: (index: number) => Promise<FileHandle>;
  signal?: AbortSignal | undefined;
}

/** How many pieces of `pieceSize` an image of `size` bytes is cut into (one when not split). */
export function pieceCount(size: number, pieceSize: number | undefined): number {
  return pieceSize === undefined ? 1 : Math.max(1, Math.ceil(size / pieceSize));
}

/** Writes `disk` into its pieces; throws an Error naming the disk or chunk on damage. */
export async function exportImage(
  repo: Repository,
  disk: ManifestDisk,
  chunkSize: number,
  options: ExportImageOptions,
): Promise<ExportedImage> {
  const pieceSize = options.pieceSize ?? Math.max(disk.size, 1);
  const count = pieceCount(disk.size, options.pieceSize);
  const whole = createHash('sha256');
  const handles: FileHandle[] = [];
  const hashes: Hash[] = [];
  const zero = Buffer.alloc(Math.min(chunkSize, 4 * 1024 * 1024));
  let writtenBytes = 0;
  try {
    for (let i = 0; i < count; i += 1) {
      const handle = await options.openPiece(i);
      handles.push(handle);
      hashes.push(createHash('sha256'));
      await handle.truncate(Math.min(pieceSize, disk.size - i * pieceSize));
    }
    // Feeds [offset, offset + length) of the image to the hashes, split at piece boundaries.
    const hashRange = (offset: number, bytes: Buffer | null, length: number): void => {
      for (let done = 0; done < length;) {
        const at = offset + done;
        const piece = Math.floor(at / pieceSize);
        const take = Math.min(length - done, (piece + 1) * pieceSize - at, bytes ? length : zero.length);
        const part = bytes ? bytes.subarray(done, done + take) : zero.subarray(0, take);
        hashes[piece]!.update(part);
        whole.update(part);
        done += take;
      }
    };
    for await (const chunk of readDiskChunks(repo, disk, chunkSize, options.signal)) {
      hashRange(chunk.offset, chunk.data, chunk.length);
      if (chunk.data === null) continue;
      await forEachDataBlock(chunk.data, async (block, at) => {
        // A block may straddle two pieces when the piece size is not a multiple of 64 KiB.
        for (let done = 0; done < block.length;) {
          const offset = chunk.offset + at + done;
          const piece = Math.floor(offset / pieceSize);
          const take = Math.min(block.length - done, (piece + 1) * pieceSize - offset);
          await handles[piece]!.write(block, done, take, offset - piece * pieceSize);
          done += take;
        }
        writtenBytes += block.length;
      });
    }
    for (const handle of handles) await handle.sync();
  } finally {
    for (const handle of handles) await handle.close().catch(() => undefined);
  }
  return {
    sha256: whole.digest('hex'),
    pieces: hashes.map((hash, index) => ({
      index,
      size: Math.min(pieceSize, disk.size - index * pieceSize),
      sha256: hash.digest('hex'),
    })),
    writtenBytes,
  };
}
