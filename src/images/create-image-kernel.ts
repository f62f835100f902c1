/**
 * The steps of `xen-create-image` that unpack the guest's kernel into the QEMU driver's PVH kernel
 * cache while the images are written, so that the guest's first boot under TCG does not wait for
 * it (the plan itself is create-image-plan.ts).
 */
import { preparePvhKernel, pvhKernelFor } from '../hypervisors/qemu/pvh-kernel.js';
import type { GuestSpec } from '../model/guest-spec.js';
import type { PlanStep } from '../plan/plan.js';

/**
 * Two steps around the image writes: the first starts unpacking the kernel the guest will boot
 * (its own newest, or the cfg's `kernel`) into the PVH kernel cache, in the background; the
 * second waits for it. It only ever adds a cache entry (written under a temporary name, renamed
 * when whole), and a failure only means the first boot unpacks the kernel itself.
 */
export function kernelAheadSteps(
  spec: GuestSpec,
  staging: string,
  cacheDir: string,
): { start: PlanStep; finish: PlanStep } | undefined {
  if (spec.boot.type === 'hvm') return undefined;
  const own = spec.boot.useGuestKernel;
  if (own ? !(spec.install.enabled && spec.install.method !== 'none') : !spec.boot.kernel) return undefined;
  const source = own ? "the newest /boot/vmlinuz-* of the guest's tree" : `${spec.boot.kernel}`;
  let done: Promise<unknown> = Promise.resolve();
  const stop = new AbortController();
  const description = 'stop unpacking the guest kernel';
  return {
    start: {
      id: 'boot.kernel',
      title: 'Unpack the guest kernel for its first boot under TCG (in the background)',
      actions: [{ kind: 'note', text: `decompress ${source} into a PVH ELF in ${cacheDir}, unless cached` }],
      run: (ctx) => {
        ctx.signal?.addEventListener('abort', () => stop.abort(), { once: true });
        const kernel = own
          ? preparePvhKernel(staging, cacheDir, stop.signal)
          : pvhKernelFor(spec.boot.kernel ?? '', cacheDir, stop.signal);
        done = kernel
          .then((elf) =>
            ctx.sink({
              type: 'info',
              message: elf ? `PVH kernel for the first boot: ${elf}` : `${source}: no PVH kernel made`,
            }),
          )
          .catch((error: unknown) =>
            ctx.sink({ type: 'info', message: `${source}: no PVH kernel made (${String(error)})` }),
          );
        ctx.undo.push(description, async () => {
          stop.abort();
          await done;
        });
        return Promise.resolve();
      },
    },
    finish: {
      id: 'boot.kernel.wait',
      title: 'Wait for the guest kernel to be unpacked',
      actions: [{ kind: 'note', text: 'wait for the background step boot.kernel' }],
      run: async (ctx) => {
        await done;
        ctx.undo.release(description);
      },
    },
  };
}
