/**
 * `--force` over an existing LVM guest without losing it on failure: the new volumes are made
 * under temporary names (createGuestVolume), and only once the whole guest is complete are the old
 * volumes renamed aside, the new ones renamed to the guest's names, and the old ones removed after
 * the commit. Every rename registers its reverse, so a failure at any point leaves the old guest
 * as it was.
 */
import { listVolumes, removeVolume, renameVolume } from '../tools/lvm.js';
import { assertNotOpen, temporaryVolumeName, type GuestVolume } from './lvm.js';
import type { StepScope } from '../plan/plan.js';

/** The undo description of putting a replaced volume back under its name. */
function putBackDescription(vg: string, name: string): string {
  return `put back the old logical volume ${vg}/${name}`;
}

/** Swaps each volume made under a temporary name into place; the old ones go after the commit. */
export async function commitGuestVolumes(volumes: readonly GuestVolume[], ctx: StepScope): Promise<void> {
  const exec = { sink: ctx.sink, signal: ctx.signal };
  for (const volume of volumes) {
    if (volume.name === volume.finalName) continue;
    const { vg, finalName } = volume;
    const old = (await listVolumes(vg, exec)).find((lv) => lv.name === finalName);
    if (old) {
      // It may have been started or mounted while the new guest was built.
      assertNotOpen(old);
      const aside = temporaryVolumeName(finalName, 'old');
      // Journaled first: a run killed from here on gets the old volume back under its name.
      const putBack = ctx.undo.expect(putBackDescription(vg, finalName), {
        kind: 'lv-rename',
        vg,
        from: finalName,
        to: aside,
      });
      await renameVolume(vg, finalName, aside, exec);
      ctx.undo.push(
        putBackDescription(vg, finalName),
        () => renameVolume(vg, aside, finalName, { sink: ctx.sink }),
        putBack,
      );
      ctx.undo.afterCommit(
        `remove the replaced logical volume ${vg}/${aside}`,
        () => removeVolume(vg, aside, { sink: ctx.sink }),
        { kind: 'lv', vg, name: aside },
      );
    }
    const back = `rename ${vg}/${finalName} back to ${volume.name}`;
    const renamed = ctx.undo.expect(back, { kind: 'lv-rename', vg, from: volume.name, to: finalName });
    await renameVolume(vg, volume.name, finalName, exec);
    ctx.undo.push(back, () => renameVolume(vg, finalName, volume.name, { sink: ctx.sink }), renamed);
  }
}
