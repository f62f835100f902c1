/**
 * Reads the identity of one guest out of its images, read-only: filesystem UUIDs (blkid -p), and
 * from the root filesystem the SSH host public keys, machine-id, random seed (digest only) and the
 * kernel's boots in the journal. Raw images and block devices are read in place; qcow2 images
 * through a read-only qemu-storage-daemon export that takes no lock (so the image of a running
 * guest opens; what is read may trail its latest writes). Private keys are never copied out.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { StepScope } from '../plan/plan.js';
import { probeBlock } from '../tools/blkid.js';
import { readKernelBoots } from '../tools/journalctl.js';
import { fingerprintPublicKey } from '../tools/ssh-keygen.js';
import { emptyGuestFacts, RANDOM_SEED_FILE, type GuestFacts } from './audit-findings.js';
import type { GuestFiles } from './guest-files.js';
import { openDebugfsReader, openMountReader, type GuestTreeReader } from './guest-tree-reader.js';
import { closeRawView, openRawView } from './image-access.js';

/** Journals above this size in total are not copied out to look for boots. */
const MAX_JOURNAL_BYTES = 512 << 20;
const PUBLIC_HOST_KEY = /^ssh_host_[a-z0-9]+_key\.pub$/;

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** The facts of guest `guest`; what cannot be read is listed in `problems`, never thrown. */
export async function readGuestFacts(guest: GuestFiles, scope: StepScope): Promise<GuestFacts> {
  const facts: GuestFacts = {
    ...emptyGuestFacts(guest.name, guest.cfgPath),
    macs: guest.config.vifs.flatMap((v) => (v.mac ? [v.mac.toUpperCase()] : [])),
  };
  for (const disk of guest.disks) {
    if (!disk.exists) {
      facts.problems.push(`${disk.path} (${disk.config.vdev}) is missing`);
      continue;
    }
    try {
      await readDisk(disk.path, disk.config.format, facts, scope);
    } catch (error) {
      facts.problems.push(`${disk.path}: ${message(error)}`);
    }
  }
  if (!facts.root && facts.problems.length === 0)
    facts.problems.push('no image holds a root filesystem with /etc');
  return facts;
}

async function readDisk(image: string, format: string, facts: GuestFacts, scope: StepScope): Promise<void> {
  // A running guest's qcow2 is locked by its QEMU; audit reads beside it, as raw images are read.
  const view = await openRawView(image, format, scope, { readOnly: true, shareWithWriter: true });
  try {
    const found = await probeBlock(view.rawPath, { sink: scope.sink, signal: scope.signal });
    facts.disks.push({ image, fsType: found?.type, uuid: found?.uuid });
    if (facts.root || found?.usage !== 'filesystem') return;
    const reader = found.type?.startsWith('ext')
      ? openDebugfsReader(view.rawPath, scope)
      : await openMountReader(view.rawPath, found.type, scope);
    try {
      const etc = await reader.list('/etc');
      if (!etc?.some((e) => e.name === 'fstab' || e.name === 'machine-id' || e.name === 'ssh')) return;
      facts.root = { image, method: reader.method };
      await readRootTree(reader, facts, scope);
    } finally {
      await reader.close();
    }
  } finally {
    await closeRawView(view, scope);
  }
}

/** Copies `file` out, reads it, and removes the copy at once. */
async function readOut(reader: GuestTreeReader, file: string, maxBytes: number): Promise<Buffer | undefined> {
  const dest = path.join(reader.scratch, path.posix.basename(file));
  try {
    if (!(await reader.copyOut(file, dest))) return undefined;
    const data = fs.readFileSync(dest);
    return data.subarray(0, maxBytes);
  } finally {
    fs.rmSync(dest, { force: true });
  }
}

async function readRootTree(reader: GuestTreeReader, facts: GuestFacts, scope: StepScope): Promise<void> {
  for (const entry of (await reader.list('/etc/ssh')) ?? []) {
    const file = `/etc/ssh/${entry.name}`;
    if (entry.kind === 'file' && entry.name === 'ssh_host_dsa_key') facts.dsaKeyFiles.push(file);
    if (entry.kind !== 'file' || !PUBLIC_HOST_KEY.test(entry.name)) continue;
    const text = (await readOut(reader, file, 64 << 10))?.toString('utf8') ?? '';
    try {
      const print = fingerprintPublicKey(text);
      const born = await reader.bornAt(file);
      facts.hostKeys.push({
        file,
        type: print.type,
        bits: print.bits,
        fingerprint: print.fingerprint,
        bornAt: born?.getTime(),
      });
    } catch (error) {
      facts.problems.push(`${file}: ${message(error)}`);
    }
  }
  facts.machineId = (await readOut(reader, '/etc/machine-id', 4096))?.toString('utf8').trim();
  const seed = await readOut(reader, RANDOM_SEED_FILE, 1 << 20);
  if (seed) facts.randomSeed = { size: seed.length, sha256: createHash('sha256').update(seed).digest('hex') };
  facts.boots = await readBoots(reader, scope);
}

/** The kernel's boots from /var/log/journal, copied out to the reader's scratch directory. */
async function readBoots(reader: GuestTreeReader, scope: StepScope): Promise<GuestFacts['boots']> {
  const top = '/var/log/journal';
  const dirs = ((await reader.list(top)) ?? []).filter(
    (e) => e.kind === 'dir' && /^[0-9a-f]{32}$/.test(e.name),
  );
  const files: { from: string; to: string }[] = [];
  let total = 0;
  for (const dir of dirs) {
    for (const entry of (await reader.list(`${top}/${dir.name}`)) ?? []) {
      if (entry.kind !== 'file' || !/^[\w@.-]+\.journal$/.test(entry.name)) continue;
      total += entry.size;
      files.push({
        from: `${top}/${dir.name}/${entry.name}`,
        to: path.join(reader.scratch, 'journal', dir.name, entry.name),
      });
    }
  }
  if (files.length === 0) return undefined;
  if (total > MAX_JOURNAL_BYTES) {
    scope.sink({ type: 'warn', message: `${top}: ${total} bytes of journal, too much to read for boots` });
    return undefined;
  }
  for (const f of files) {
    fs.mkdirSync(path.dirname(f.to), { recursive: true, mode: 0o700 });
    await reader.copyOut(f.from, f.to);
  }
  try {
    const boots = await readKernelBoots(path.join(reader.scratch, 'journal'), {
      sink: scope.sink,
      signal: scope.signal,
    });
    return boots.map((b) => ({ first: b.first, last: b.last, crngReady: b.crngReady }));
  } finally {
    fs.rmSync(path.join(reader.scratch, 'journal'), { recursive: true, force: true });
  }
}
